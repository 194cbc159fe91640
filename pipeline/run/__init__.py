"""Running sweeps: the driver (:mod:`~pipeline.run.engine`), bounded submission and stop
signals (:mod:`~pipeline.run.submit`), what a worker runs (:mod:`~pipeline.run.worker`),
the clusters (:mod:`~pipeline.run.clusters`), progress lines
(:mod:`~pipeline.run.progress`), SLURM site options (:mod:`~pipeline.run.site`) and batch
scripts (:mod:`~pipeline.run.slurm`, with the package data in ``run/data/``).
"""
