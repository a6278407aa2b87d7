# The mockidp plugin loads through its pytest11 entry point, exactly as in a user's project;
# nothing here imports it. pytester runs the plugin's own tests in fresh pytest sessions.
pytest_plugins = ["pytester"]
