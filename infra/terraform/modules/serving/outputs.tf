output "namespace" {
  description = "Namespace of TGI and the API."
  value       = module.env.namespace
}

output "tgi_url" {
  description = "TGI_URL for the applications (through the KEDA interceptor)."
  value       = "http://${local.tgi_host}:${local.tgi_port}"
}

output "tgi_deployment" {
  description = "<namespace>/<name> of the TGI deployment that promotion patches."
  value       = "${module.env.namespace}/${kubernetes_deployment_v1.tgi.metadata[0].name}"
}

output "api_service" {
  description = "In-cluster address of the API."
  value       = "http://twin-api.${module.env.namespace}.svc.cluster.local"
}
