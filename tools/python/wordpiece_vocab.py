"""Learns an uncased WordPiece vocabulary from word counts, the way Hugging Face's WordPieceTrainer
does: start from characters ("##c" inside a word), then repeatedly merge the most frequent adjacent
pair of pieces (weighted by word count) until the vocabulary has the wanted size.

The word counts come from the tokenizers library's own BertNormalizer + BertPreTokenizer
(tools/node/example_tokenizer.js words), so the pieces fit what the tokenizer will see.
"""
import heapq
from collections import Counter, defaultdict

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PREFIX = "##"


def _join(a, b):
    return a + (b[len(PREFIX):] if b.startswith(PREFIX) else b)


def learn(word_counts, vocab_size, min_char_count=5, min_pair_count=2):
    """Returns the vocabulary as a list (index = id): special tokens, then characters, then merges.

    Characters seen fewer than min_char_count times are left out (words with them become [UNK]);
    every kept character gets both its word-initial and its "##" form.
    """
    char_counts = Counter()
    for word, n in word_counts.items():
        for ch in word:
            char_counts[ch] += n
    alphabet = sorted(ch for ch, n in char_counts.items() if n >= min_char_count)
    vocab = list(SPECIAL_TOKENS)
    vocab += alphabet + [PREFIX + ch for ch in alphabet]
    known = set(alphabet)

    words, counts = [], []
    for word in sorted(word_counts):
        if all(ch in known for ch in word):
            words.append([word[0]] + [PREFIX + ch for ch in word[1:]])
            counts.append(word_counts[word])

    pair_counts = Counter()
    where = defaultdict(set)
    for i, pieces in enumerate(words):
        for pair in zip(pieces, pieces[1:]):
            pair_counts[pair] += counts[i]
            where[pair].add(i)
    # Max-heap with lazy deletion: stale entries are skipped when their count has changed. Ties go
    # to the lexicographically smaller pair, so the result does not depend on hash order.
    heap = [(-n, pair) for pair, n in pair_counts.items()]
    heapq.heapify(heap)
    in_vocab = set(vocab)
    while len(vocab) < vocab_size and heap:
        neg, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -neg:
            continue
        if -neg < min_pair_count:
            break
        merged = _join(*pair)
        if merged not in in_vocab:
            vocab.append(merged)
            in_vocab.add(merged)
        changed = set()
        for i in sorted(where.pop(pair, ())):
            pieces = words[i]
            n = counts[i]
            for old in zip(pieces, pieces[1:]):
                pair_counts[old] -= n
                changed.add(old)
            out, j = [], 0
            while j < len(pieces):
                if j + 1 < len(pieces) and (pieces[j], pieces[j + 1]) == pair:
                    out.append(merged)
                    j += 2
                else:
                    out.append(pieces[j])
                    j += 1
            words[i] = out
            for new in zip(out, out[1:]):
                pair_counts[new] += n
                where[new].add(i)
                changed.add(new)
        for p in changed:
            n = pair_counts.get(p, 0)
            if n <= 0:
                pair_counts.pop(p, None)
                where.pop(p, None)
            else:
                heapq.heappush(heap, (-n, p))
    return vocab
