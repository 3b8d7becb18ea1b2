// ELECTRA (model_type "electra"): the discriminator / encoder. BERT's layers and names; token
// embeddings of embedding_size, projected to hidden_size by embeddings_project when the two
// differ; a classification head of classifier.dense + GELU + classifier.out_proj.
#include "model/architectures/architecture.h"

namespace salvo {

const Architecture& electra_architecture() {
  static const Architecture architecture{
      {"electra"},
      [](const ConfigJson& json) {
        EncoderConfig c;
        c.model_type = "electra";
        c.vocab_size = 30522;
        c.hidden_size = 256;
        c.num_layers = 12;
        c.num_heads = 4;
        c.intermediate_size = 1024;
        c.max_position_embeddings = 512;
        c.type_vocab_size = 2;
        read_bert_fields(json, &c);
        c.embedding_size = json.integer("embedding_size", 128, 1);
        return c;
      },
      [](const EncoderConfig& c) {
        CheckpointLayout l = bert_style_layout("electra.");
        // transformers builds embeddings_project only when the sizes differ.
        if (c.embedding_size != c.hidden_size) l.embedding_projection = "embeddings_project";
        l.classifier = {"classifier.dense", HeadActivation::kGelu, "classifier.out_proj"};
        l.classifier_description = "classifier.dense + GELU + classifier.out_proj";
        return l;
      },
  };
  return architecture;
}

}  // namespace salvo
