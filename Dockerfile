# The Airflow image for this project: the official image of the pinned Airflow version plus the
# pinned requirements (providers, lxml). DAGs, plugins and include/ are mounted by docker-compose.yaml
# (or copied by a deployment pipeline), so code changes need no rebuild.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

USER root
# mysqlclient builds from source against the MariaDB client headers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libmariadb-dev build-essential \
 && rm -rf /var/lib/apt/lists/*

USER airflow
COPY requirements.txt constraints.txt /opt/airflow/requirements/
RUN pip install --no-cache-dir \
      -r /opt/airflow/requirements/requirements.txt \
      -c /opt/airflow/requirements/constraints.txt
