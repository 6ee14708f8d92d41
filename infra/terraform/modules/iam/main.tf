# One role per workload, assumed through EKS Pod Identity, each limited to the bucket prefixes
# and keys it needs. The application secret is created empty: its value is put by an operator
# (aws secretsmanager put-secret-value) and never passes through Terraform or the repository.

data "aws_iam_policy_document" "pod_identity_trust" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }
  }
}

locals {
  data   = var.data_bucket_arn
  prefix = var.data_prefix
  # Object ARNs per area of the data bucket.
  warehouse = "${local.data}/${local.prefix}warehouse/*"
  datasets  = "${local.data}/${local.prefix}datasets/*"
  models    = "${local.data}/${local.prefix}models/*"
  all_data  = "${local.data}/${local.prefix}*"
}

# --- Dagster: code server, daemon and run pods read and write every area -----------------------

data "aws_iam_policy_document" "dagster" {
  statement {
    sid       = "ListData"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.data]
  }
  statement {
    sid       = "ReadWriteData"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.all_data]
  }
  statement {
    sid       = "UseKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

# --- Training: reads datasets and base models, writes new model versions ----------------------

data "aws_iam_policy_document" "training" {
  statement {
    sid       = "ListData"
    actions   = ["s3:ListBucket"]
    resources = [local.data]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefix}datasets/*", "${local.prefix}models/*"]
    }
  }
  statement {
    sid       = "ReadDatasetsAndModels"
    actions   = ["s3:GetObject"]
    resources = [local.datasets, local.models]
  }
  statement {
    sid       = "WriteModels"
    actions   = ["s3:PutObject"]
    resources = [local.models]
  }
  statement {
    sid       = "UseKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

# --- Serving: the engine and the API only read the model registry ------------------------------

data "aws_iam_policy_document" "serving" {
  statement {
    sid       = "ListModels"
    actions   = ["s3:ListBucket"]
    resources = [local.data]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefix}models/*"]
    }
  }
  statement {
    sid       = "ReadModels"
    actions   = ["s3:GetObject"]
    resources = [local.models]
  }
  statement {
    sid       = "DecryptOnly"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

# --- Milvus: its own bucket only ---------------------------------------------------------------

data "aws_iam_policy_document" "milvus" {
  statement {
    sid       = "ListMilvus"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.milvus_bucket_arn]
  }
  statement {
    sid       = "ReadWriteMilvus"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.milvus_bucket_arn}/*"]
  }
  statement {
    sid       = "UseKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

# --- External Secrets Operator: reads the application secret only ------------------------------

data "aws_iam_policy_document" "secrets" {
  statement {
    sid       = "ReadAppSecret"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [aws_secretsmanager_secret.app.arn]
  }
  statement {
    sid       = "DecryptSecret"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

locals {
  policies = {
    dagster  = data.aws_iam_policy_document.dagster.json
    training = data.aws_iam_policy_document.training.json
    serving  = data.aws_iam_policy_document.serving.json
    milvus   = data.aws_iam_policy_document.milvus.json
    secrets  = data.aws_iam_policy_document.secrets.json
  }
}

resource "aws_iam_role" "workload" {
  for_each             = local.policies
  name                 = "${var.name}-${each.key}"
  description          = "${var.name}: ${each.key} pods (EKS Pod Identity)"
  assume_role_policy   = data.aws_iam_policy_document.pod_identity_trust.json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "workload" {
  for_each = local.policies
  name     = "${var.name}-${each.key}"
  role     = aws_iam_role.workload[each.key].id
  policy   = each.value
}

# JSON object whose keys become environment variables (see app_secret_keys).
resource "aws_secretsmanager_secret" "app" {
  name                    = "${var.name}/app"
  description             = "LLM Twin application secrets: ${join(", ", var.app_secret_keys)}"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}
