"""Silences, maintenance windows, inhibition and flapping: which alerts stay quiet, and
why. The rules are pure (``silences``, ``maintenance``, ``inhibition``, ``flapping``,
``matchers``, ``regex``); ``apply`` is the step the pipeline runs inside a batch's
transaction, ``store`` caches what it reads."""
