"""PUP_fileload and GR_Insight_Process per data partition: config, DAG factory, run locks, the programs."""
