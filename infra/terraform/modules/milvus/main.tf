# Milvus either as a Helm release on the cluster (segments in S3 through the pod's IAM role) or,
# when managed_uri is set, a managed endpoint (Zilliz Cloud) passed straight through.

data "aws_region" "current" {}

locals {
  self_hosted = var.managed_uri == null
}

resource "kubernetes_namespace_v1" "this" {
  count = local.self_hosted ? 1 : 0
  metadata {
    name   = var.namespace
    labels = { "app.kubernetes.io/part-of" = "llm-twin" }
  }
}

resource "aws_eks_pod_identity_association" "milvus" {
  count           = local.self_hosted ? 1 : 0
  cluster_name    = var.cluster_name
  namespace       = kubernetes_namespace_v1.this[0].metadata[0].name
  service_account = "milvus"
  role_arn        = var.role_arn
}

resource "helm_release" "milvus" {
  count      = local.self_hosted ? 1 : 0
  name       = "milvus"
  namespace  = kubernetes_namespace_v1.this[0].metadata[0].name
  repository = "https://zilliztech.github.io/milvus-helm"
  chart      = "milvus"
  version    = var.chart_version
  timeout    = 900

  values = [yamlencode({
    cluster        = { enabled = var.cluster_mode }
    serviceAccount = { create = true, name = "milvus" }
    # Authentication on: clients present TWIN_MILVUS_TOKEN from the application secret.
    extraConfigFiles = {
      "user.yaml" = yamlencode({ common = { security = { authorizationEnabled = true } } })
    }
    minio = { enabled = false }
    externalS3 = {
      enabled       = true
      host          = "s3.${data.aws_region.current.region}.amazonaws.com"
      port          = "443"
      useSSL        = true
      bucketName    = var.bucket_name
      rootPath      = "milvus"
      useIAM        = true
      cloudProvider = "aws"
      region        = data.aws_region.current.region
    }
    etcd = {
      replicaCount = var.cluster_mode ? 3 : 1
      persistence  = { size = "10Gi" }
    }
    # Standalone uses its embedded message queue; cluster mode needs Pulsar.
    pulsarv3 = { enabled = var.cluster_mode }
    standalone = {
      resources    = var.resources
      persistence  = { persistentVolumeClaim = { size = var.volume_size } }
      nodeSelector = { "twin/pool" = "system" }
    }
  })]

  depends_on = [aws_eks_pod_identity_association.milvus]
}
