"""The DVC stages: thin entry points (`python -m stages.<name>`) that read their params, call
the `fashion_tagger` library and write their outputs. See dvc.yaml."""
