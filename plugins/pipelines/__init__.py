"""Logic of the data platform's pipelines; DAG files in dags/ only wire these modules together."""
