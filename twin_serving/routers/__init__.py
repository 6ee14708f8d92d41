"""API routers; ``twin_serving.app.create_app`` mounts them."""
