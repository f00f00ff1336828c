"""`python -m bot.rasa_server run ...`: Rasa's own command line, with one start-up fix.

The model's classifier is stored with skops, whose first import looks up several hundred
scikit-learn and SciPy names in every module already loaded. Inside the Rasa server
(TensorFlow loaded: about 5,700 modules) that costs 10 s or more of the time before the
first answer; imported first, before Rasa, it costs what importing scikit-learn costs
(make bench measures the time from `make run` to the first answer).
"""

from __future__ import annotations


def main() -> None:
    import skops.io  # noqa: F401  (see the module docstring)
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
