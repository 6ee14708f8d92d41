# Prod: Multi-AZ everything, a warm TGI replica, four-GPU training jobs.
environment = "prod"
region      = "eu-west-1"
az_count    = 3

# The API endpoint stays private: apply from a runner inside the VPC or over VPN.
endpoint_public_access = false

system_node_group = {
  instance_types = ["m6i.xlarge"]
  min_size       = 2
  max_size       = 6
}

gpu_node_groups = {
  a10g-1 = { instance_types = ["g5.2xlarge"], max_size = 4 }
  a10g-4 = { instance_types = ["g5.12xlarge"], max_size = 1 }
}

db_instance_class = "db.m7g.large"

tgi_scale_to_zero              = false
tgi_min_replicas               = 1
tgi_max_replicas               = 4
tgi_target_concurrent_requests = 8
training_gpus_per_job          = 4
training_max_gpus              = 4

tgi = {
  max_input_tokens = 3072
  max_total_tokens = 4096
}

user_code_image = { repository = "<account id>.dkr.ecr.eu-west-1.amazonaws.com/llm-twin/user-code", tag = "0.1.0" }
api_image       = "<account id>.dkr.ecr.eu-west-1.amazonaws.com/llm-twin/serving:0.1.0"
training_image  = "<account id>.dkr.ecr.eu-west-1.amazonaws.com/llm-twin/training:0.1.0"
