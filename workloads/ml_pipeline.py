"""A pyspark.ml pipeline: assembler, scaler and logistic regression fit and evaluated."""

import random
import time

from _common import checksum, expect, report, session
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import StandardScaler, VectorAssembler

started = time.time()
spark = session("ml_pipeline")
rng = random.Random(42)
rows = []
for _ in range(5000):
    x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
    rows.append((x1, x2, 1.0 if 2 * x1 - x2 + rng.gauss(0, 0.3) > 0 else 0.0))
data = spark.createDataFrame(rows, ["x1", "x2", "label"]).repartition(1)
pipeline = Pipeline(
    stages=[
        VectorAssembler(inputCols=["x1", "x2"], outputCol="raw"),
        StandardScaler(inputCol="raw", outputCol="features"),
        LogisticRegression(maxIter=50, regParam=0.01),
    ]
)
model = pipeline.fit(data)
scored = model.transform(data)
auc = BinaryClassificationEvaluator().evaluate(scored)
expect(auc > 0.95, f"model AUC too low: {auc:.3f}")
predictions = [r.prediction for r in scored.select("prediction").collect()]
report("ml_pipeline", checksum([sum(predictions), round(auc, 3)]), started)
spark.stop()
