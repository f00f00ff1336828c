"""`make bench`: understanding against baselines, and serving speed under load.

`python -m bot.bench` runs both and writes docs/benchmarks.md and var/bench/results.json.
Plain Python here; Rasa, TensorFlow and scikit-learn are imported only where they run.
"""
