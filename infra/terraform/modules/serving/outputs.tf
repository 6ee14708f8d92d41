output "namespace" {
  description = "Namespace of the engine and the API."
  value       = module.env.namespace
}

output "engine_url" {
  description = "TGI_URL for the applications, whichever the engine (through the KEDA interceptor)."
  value       = "http://${local.engine_host}:${local.engine_port}"
}

output "engine_deployment" {
  description = "<namespace>/<name> of the engine deployment that promotion patches."
  value       = "${module.env.namespace}/${kubernetes_deployment_v1.engine.metadata[0].name}"
}

output "served_models" {
  description = "Model names requests may ask for: the adapter ids (and base when adapters are served)."
  value       = var.serve_adapters ? concat(["base"], sort(keys(var.adapters))) : sort(keys(var.adapters))
}

output "api_service" {
  description = "In-cluster address of the API."
  value       = "http://twin-api.${module.env.namespace}.svc.cluster.local"
}
