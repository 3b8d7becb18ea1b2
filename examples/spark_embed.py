"""salvo inside Spark: embeds and classifies the example descriptions in a local Spark session
through the three routes, and writes the embeddings to Parquet.

    pip install .                      # from the repository root
    python examples/spark_embed.py [output.parquet]
"""

import os
import pathlib
import sys
import tempfile

from pyspark.ml.functions import predict_batch_udf
from pyspark.sql import SparkSession

import salvo.spark

HERE = pathlib.Path(__file__).resolve().parent
MODEL = str(HERE / "debian-sections")

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the executors' Python must have salvo
spark = (SparkSession.builder.master("local[2]").appName("salvo example")
         .config("spark.ui.enabled", "false").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
df = spark.read.json(str(HERE / "descriptions.jsonl"))  # columns id, text

# 1. predict_batch_udf, as Spark's docs run models: salvo gives the make_predict_fn.
embed = predict_batch_udf(salvo.spark.make_predict_fn(MODEL), return_type=salvo.spark.embed_type(), batch_size=256)
df.withColumn("embedding", embed("text")).select("id", "embedding").show(3, truncate=60)

# 2. A pandas UDF that handles nulls (null in, null out; with_errors=True adds the reason).
sections = salvo.spark.classify_udf(MODEL, top_k=3)
df.withColumn("section", sections("text")).select("id", "section.label", "section.score").show(5)

# 3. The fastest route: mapInArrow, Arrow in and out, every other column kept.
output = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.mkdtemp(), "embeddings.parquet")
salvo.spark.transform(df, "text", "embedding", MODEL, error_col="error").write.mode("overwrite").parquet(output)
print(f"{spark.read.parquet(output).count()} rows with embeddings -> {output}")
spark.stop()
