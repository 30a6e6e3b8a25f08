"""What the web surfaces (the API, the recipient pages, the staff console) share: error
rendering, rate limits and JSON. Nothing below the web layer imports it."""
