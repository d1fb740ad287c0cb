"""Scale-out on Dask (``dask.distributed``): ``scanner sweep`` and ``scanner rerun
--engine dask``. ``worker.py`` runs on the workers; ``sweep.py`` and ``rerun.py`` on the
client; ``cluster.py`` connects to a scheduler or starts a local cluster."""
