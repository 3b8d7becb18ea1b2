// RoBERTa and XLM-RoBERTa (model_type "roberta", "xlm-roberta"): BERT's layers with fairseq's
// position numbering (padding_idx + 1 onwards), token types always 0 (their tokenizers send none),
// and a classification head of its own (classifier.dense + tanh + classifier.out_proj).
#include "model/architectures/architecture.h"

namespace salvo {

const Architecture& roberta_architecture() {
  static const Architecture architecture{
      {"roberta", "xlm-roberta"},
      [](const ConfigJson& json) {
        EncoderConfig c;
        c.model_type = json.model_type();
        c.vocab_size = c.model_type == "roberta" ? 50265 : 30522;
        c.hidden_size = 768;
        c.num_layers = 12;
        c.num_heads = 12;
        c.intermediate_size = 3072;
        c.max_position_embeddings = 512;
        c.type_vocab_size = 2;
        c.padding_idx = 1;
        read_bert_fields(json, &c);
        c.position_ids = PositionIds::kAfterPadding;
        c.token_types = TokenTypes::kZero;
        return c;
      },
      [](const EncoderConfig&) {
        CheckpointLayout l = bert_style_layout("roberta.");
        l.classifier = {"classifier.dense", HeadActivation::kTanh, "classifier.out_proj"};
        l.classifier_description = "classifier.dense + tanh + classifier.out_proj";
        return l;
      },
  };
  return architecture;
}

}  // namespace salvo
