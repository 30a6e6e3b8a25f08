from suppression import create_app

app = create_app()
