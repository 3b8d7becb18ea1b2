// MPNet (model_type "mpnet"): fairseq position numbering from padding_idx 1 (fixed in
// transformers' MPNetEmbeddings, whatever pad_token_id says), no token types, and a relative
// position bias on the attention scores: a [buckets, heads] table shared by every layer, indexed by
// T5-style buckets of the key's offset from the query (transformers computes them with 32 buckets
// and max distance 128 whatever relative_attention_num_buckets says). Classification head as
// RoBERTa's.
#include "model/architectures/architecture.h"

namespace salvo {

const Architecture& mpnet_architecture() {
  static const Architecture architecture{
      {"mpnet"},
      [](const ConfigJson& json) {
        EncoderConfig c;
        c.model_type = "mpnet";
        c.vocab_size = 30527;
        c.hidden_size = 768;
        c.num_layers = 12;
        c.num_heads = 12;
        c.intermediate_size = 3072;
        c.max_position_embeddings = 512;
        c.type_vocab_size = 1;
        read_bert_fields(json, &c);
        c.position_ids = PositionIds::kAfterPadding;
        c.padding_idx = 1;
        c.token_types = TokenTypes::kAbsent;
        c.relative_attention_buckets = json.integer("relative_attention_num_buckets", 32, 32);
        return c;
      },
      [](const EncoderConfig&) {
        CheckpointLayout l;
        l.prefixes = {"mpnet."};
        l.word_embeddings = "embeddings.word_embeddings";
        l.position_embeddings = "embeddings.position_embeddings";
        l.embedding_norm = "embeddings.LayerNorm";
        l.relative_attention_bias = "encoder.relative_attention_bias";
        l.layer = [](int64_t layer) {
          const std::string p = "encoder.layer." + std::to_string(layer) + ".";
          EncoderLayerNames n;
          n.query = p + "attention.attn.q";
          n.key = p + "attention.attn.k";
          n.value = p + "attention.attn.v";
          n.attention_output = p + "attention.attn.o";
          n.attention_norm = p + "attention.LayerNorm";
          n.intermediate = p + "intermediate.dense";
          n.output = p + "output.dense";
          n.output_norm = p + "output.LayerNorm";
          return n;
        };
        l.classifier = {"classifier.dense", HeadActivation::kTanh, "classifier.out_proj"};
        l.classifier_description = "classifier.dense + tanh + classifier.out_proj";
        return l;
      },
  };
  return architecture;
}

}  // namespace salvo
