"""Django settings and URLs of the bench shop (imported by Django as `bench_shop`)."""
