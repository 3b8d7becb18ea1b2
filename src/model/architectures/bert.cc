// BERT (model_type "bert"): BertModel, BertForMaskedLM and BertForSequenceClassification checkpoints.
#include "model/architectures/architecture.h"

namespace salvo {

void read_bert_fields(const ConfigJson& json, EncoderConfig* c) {
  c->vocab_size = json.integer("vocab_size", c->vocab_size, 1);
  c->hidden_size = json.integer("hidden_size", c->hidden_size, 1);
  c->num_layers = json.integer("num_hidden_layers", c->num_layers, 1);
  c->num_heads = json.integer("num_attention_heads", c->num_heads, 1);
  c->intermediate_size = json.integer("intermediate_size", c->intermediate_size, 1);
  c->hidden_act = json.activation("hidden_act", c->hidden_act_name, &c->hidden_act_name);
  c->layer_norm_eps = json.positive_number("layer_norm_eps", c->layer_norm_eps);
  c->max_position_embeddings = json.integer("max_position_embeddings", c->max_position_embeddings, 1);
  c->type_vocab_size = json.integer("type_vocab_size", c->type_vocab_size, 1);
  c->padding_idx = json.integer("pad_token_id", c->padding_idx, 0);
  const std::string positions = json.string("position_embedding_type", "absolute");
  if (positions != "absolute") {
    json.fail("position_embedding_type '" + positions + "' is not supported (only 'absolute')");
  }
}

EncoderLayerNames bert_layer_names(int64_t layer) {
  const std::string p = "encoder.layer." + std::to_string(layer) + ".";
  EncoderLayerNames n;
  n.query = p + "attention.self.query";
  n.key = p + "attention.self.key";
  n.value = p + "attention.self.value";
  n.attention_output = p + "attention.output.dense";
  n.attention_norm = p + "attention.output.LayerNorm";
  n.intermediate = p + "intermediate.dense";
  n.output = p + "output.dense";
  n.output_norm = p + "output.LayerNorm";
  return n;
}

CheckpointLayout bert_style_layout(const std::string& prefix) {
  CheckpointLayout l;
  l.prefixes = {prefix};
  l.word_embeddings = "embeddings.word_embeddings";
  l.position_embeddings = "embeddings.position_embeddings";
  l.token_type_embeddings = "embeddings.token_type_embeddings";
  l.embedding_norm = "embeddings.LayerNorm";
  l.layer = bert_layer_names;
  return l;
}

const Architecture& bert_architecture() {
  static const Architecture architecture{
      {"bert"},
      [](const ConfigJson& json) {
        EncoderConfig c;
        c.model_type = "bert";
        c.vocab_size = 30522;
        c.hidden_size = 768;
        c.num_layers = 12;
        c.num_heads = 12;
        c.intermediate_size = 3072;
        c.max_position_embeddings = 512;
        c.type_vocab_size = 2;
        read_bert_fields(json, &c);
        return c;
      },
      [](const EncoderConfig&) {
        CheckpointLayout l = bert_style_layout("bert.");
        l.classifier = {"pooler.dense", HeadActivation::kTanh, "classifier"};
        l.classifier_description = "pooler.dense + tanh + classifier";
        return l;
      },
  };
  return architecture;
}

}  // namespace salvo
