"""Every job kind the workers know, registered in one place."""

from __future__ import annotations


def register_all() -> None:
    from gristmill.services.datasets.export_job import register_export
    from gristmill.services.datasets.ingest_job import register_ingest
    from gristmill.services.logs.log_dataset_job import register_log_dataset_sync
    from gristmill.services.publishing.job import register_publish
    from gristmill.services.quality.evaluation import register_evaluation
    from gristmill.services.runs.custom_evals import register_custom_eval
    from gristmill.services.runs.job import register_run

    register_ingest()
    register_export()
    register_publish()
    register_log_dataset_sync()
    register_evaluation()
    register_run()
    register_custom_eval()
