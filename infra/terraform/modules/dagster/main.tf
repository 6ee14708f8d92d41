# Dagster on EKS through the official Helm chart: webserver, daemon (queued run coordinator with
# a concurrency limit on GPU training runs), the LLM Twin user-code deployment and the
# K8sRunLauncher. Run and event storage live in RDS Postgres, whose password RDS keeps in
# Secrets Manager and External Secrets copies into the namespace.

data "aws_partition" "current" {}

locals {
  db_secret_k8s = "dagster-postgresql-secret"
}

module "env" {
  source            = "../app_env"
  namespace         = var.namespace
  config            = var.app_config
  secret_store_name = var.secret_store_name
  app_secret_name   = var.app_secret_name
}

# --- RDS Postgres ----------------------------------------------------------------------------

resource "aws_db_subnet_group" "this" {
  name       = "${var.name}-dagster"
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_security_group" "db" {
  name        = "${var.name}-dagster-db"
  description = "Postgres for Dagster, reachable from EKS nodes only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "db_from_cluster" {
  security_group_id            = aws_security_group.db.id
  description                  = "Postgres from EKS nodes and pods"
  referenced_security_group_id = var.cluster_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_db_parameter_group" "this" {
  name   = "${var.name}-dagster-pg17"
  family = "postgres17"
  tags   = var.tags

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  # Slow-query and DDL logging for diagnosing a slow Dagster UI.
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
  parameter {
    name  = "log_statement"
    value = "ddl"
  }
}

data "aws_iam_policy_document" "monitoring_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  name               = "${var.name}-dagster-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.monitoring_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "this" {
  identifier     = "${var.name}-dagster"
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class
  db_name        = "dagster"
  username       = "dagster"
  # RDS generates and rotates the password in Secrets Manager, encrypted with our key.
  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.kms_key_arn

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_allocated_storage_gb * 4
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.db.id]
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false
  multi_az               = var.db_multi_az

  backup_retention_period             = var.db_backup_retention_days
  copy_tags_to_snapshot               = true
  deletion_protection                 = var.db_deletion_protection
  skip_final_snapshot                 = false
  final_snapshot_identifier           = "${var.name}-dagster-final"
  auto_minor_version_upgrade          = true
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  monitoring_interval                 = 60
  monitoring_role_arn                 = aws_iam_role.monitoring.arn
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = var.kms_key_arn

  tags = var.tags
}

# External Secrets may read this one RDS-managed secret, nothing else of RDS.
data "aws_iam_policy_document" "read_db_secret" {
  statement {
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [aws_db_instance.this.master_user_secret[0].secret_arn]
  }
}

resource "aws_iam_role_policy" "read_db_secret" {
  name   = "${var.name}-read-dagster-db-secret"
  role   = var.secrets_role_name
  policy = data.aws_iam_policy_document.read_db_secret.json
}

resource "kubernetes_manifest" "db_secret" {
  manifest = {
    apiVersion = "external-secrets.io/v1"
    kind       = "ExternalSecret"
    metadata   = { name = local.db_secret_k8s, namespace = module.env.namespace }
    spec = {
      refreshInterval = "1h"
      secretStoreRef  = { kind = "ClusterSecretStore", name = var.secret_store_name }
      target          = { name = local.db_secret_k8s, creationPolicy = "Owner" }
      data = [{
        secretKey = "postgresql-password"
        remoteRef = { key = aws_db_instance.this.master_user_secret[0].secret_arn, property = "password" }
      }]
    }
  }
  depends_on = [aws_iam_role_policy.read_db_secret]
}

# --- Dagster ---------------------------------------------------------------------------------

resource "aws_eks_pod_identity_association" "dagster" {
  cluster_name    = var.cluster_name
  namespace       = module.env.namespace
  service_account = var.service_account
  role_arn        = var.role_arn
}

locals {
  env_from = {
    envConfigMaps = [{ name = module.env.config_map_name }]
    envSecrets    = [{ name = module.env.secret_name }]
  }

  values = {
    global = {
      postgresqlSecretName = local.db_secret_k8s
      serviceAccountName   = var.service_account
    }
    serviceAccount                   = { create = true, name = var.service_account }
    generatePostgresqlPasswordSecret = false
    postgresql = {
      enabled            = false
      postgresqlHost     = aws_db_instance.this.address
      postgresqlUsername = aws_db_instance.this.username
      postgresqlDatabase = aws_db_instance.this.db_name
      postgresqlParams   = { sslmode = "require" }
      service            = { port = aws_db_instance.this.port }
    }
    dagsterWebserver = {
      replicaCount = var.webserver_replicas
      nodeSelector = { "twin/pool" = "system" }
    }
    dagsterDaemon = {
      nodeSelector = { "twin/pool" = "system" }
      runCoordinator = {
        enabled = true
        type    = "QueuedRunCoordinator"
        config = {
          queuedRunCoordinator = {
            maxConcurrentRuns = var.max_concurrent_runs
            # Training runs each hold GPUs: never queue more at once than the GPU pools allow.
            tagConcurrencyLimits = [
              { key = "twin/compute", value = "training", limit = var.training_concurrency_limit },
              { key = "twin/compute", value = "embedding", limit = var.embedding_concurrency_limit },
              # Collection runs write the warehouse: one at a time, whoever starts them.
              { key = "twin/job", value = "collection", limit = 1 },
            ]
          }
        }
      }
      # The same run monitoring as infra/dagster/dagster.prod.yaml: a run whose pod died is
      # resumed once, then marked failed, and its concurrency slots are freed.
      runMonitoring = {
        enabled                     = true
        startTimeoutSeconds         = 300
        cancelTimeoutSeconds        = 300
        maxResumeRunAttempts        = 1
        pollIntervalSeconds         = 60
        freeSlotsAfterRunEndSeconds = 300
      }
    }
    runLauncher = {
      type = "K8sRunLauncher"
      config = {
        k8sRunLauncher = merge(local.env_from, {
          jobNamespace = module.env.namespace
          runK8sConfig = {
            containerConfig = { resources = var.run_resources }
            podSpecConfig   = { nodeSelector = { "twin/pool" = "system" } }
            jobSpecConfig   = { ttlSecondsAfterFinished = 86400 }
          }
        })
      }
    }
    computeLogManager = {
      type = "S3ComputeLogManager"
      config = {
        s3ComputeLogManager = {
          bucket = var.compute_log_bucket
          prefix = "${var.compute_log_prefix}dagster/compute-logs"
        }
      }
    }
    "dagster-user-deployments" = {
      enabled        = true
      enableSubchart = true
      serviceAccount = { create = false, name = var.service_account }
      deployments = [merge(local.env_from, {
        name               = "llm-twin"
        image              = { repository = var.user_code_image.repository, tag = var.user_code_image.tag, pullPolicy = "IfNotPresent" }
        dagsterApiGrpcArgs = ["--module-name", "twin_assets.definitions", "--attribute", "defs"]
        port               = 3030
        resources          = var.code_server_resources
        nodeSelector       = { "twin/pool" = "system" }
        includeConfigInLaunchedRuns = { enabled = true }
      })]
    }
    telemetry = { enabled = false }
  }
}

resource "helm_release" "dagster" {
  name       = "dagster"
  namespace  = module.env.namespace
  repository = "https://dagster-io.github.io/helm"
  chart      = "dagster"
  version    = var.chart_version
  values     = [yamlencode(local.values)]
  timeout    = 900

  depends_on = [kubernetes_manifest.db_secret, aws_eks_pod_identity_association.dagster]
}
