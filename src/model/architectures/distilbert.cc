// DistilBERT (model_type "distilbert"): no token type embeddings, its own names (dim, n_layers,
// q_lin, sa_layer_norm, ffn.lin1, ...), layer norms at eps 1e-12 whatever the config says, and
// pre_classifier + ReLU + classifier as its classification head.
#include "model/architectures/architecture.h"

namespace salvo {

const Architecture& distilbert_architecture() {
  static const Architecture architecture{
      {"distilbert"},
      [](const ConfigJson& json) {
        EncoderConfig c;
        c.model_type = "distilbert";
        c.vocab_size = json.integer("vocab_size", 30522, 1);
        c.hidden_size = json.integer("dim", 768, 1);
        c.num_layers = json.integer("n_layers", 6, 1);
        c.num_heads = json.integer("n_heads", 12, 1);
        c.intermediate_size = json.integer("hidden_dim", 3072, 1);
        c.hidden_act = json.activation("activation", "gelu", &c.hidden_act_name);
        c.layer_norm_eps = 1e-12f;  // DistilBERT's modules hard-code it
        c.max_position_embeddings = json.integer("max_position_embeddings", 512, 1);
        c.padding_idx = json.integer("pad_token_id", 0, 0);
        c.token_types = TokenTypes::kAbsent;
        return c;
      },
      [](const EncoderConfig&) {
        CheckpointLayout l;
        l.prefixes = {"distilbert."};
        l.word_embeddings = "embeddings.word_embeddings";
        l.position_embeddings = "embeddings.position_embeddings";
        l.embedding_norm = "embeddings.LayerNorm";
        l.layer = [](int64_t layer) {
          const std::string p = "transformer.layer." + std::to_string(layer) + ".";
          EncoderLayerNames n;
          n.query = p + "attention.q_lin";
          n.key = p + "attention.k_lin";
          n.value = p + "attention.v_lin";
          n.attention_output = p + "attention.out_lin";
          n.attention_norm = p + "sa_layer_norm";
          n.intermediate = p + "ffn.lin1";
          n.output = p + "ffn.lin2";
          n.output_norm = p + "output_layer_norm";
          return n;
        };
        l.classifier = {"pre_classifier", HeadActivation::kRelu, "classifier"};
        l.classifier_description = "pre_classifier + ReLU + classifier";
        return l;
      },
  };
  return architecture;
}

}  // namespace salvo
