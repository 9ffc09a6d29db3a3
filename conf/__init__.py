"""tformer's Hydra configs. Installed as ``tformer.conf``; a package so that importlib finds the
folder whether tformer is installed from a wheel or in editable mode (``tformer.cli.CONFIG_DIR``)."""
