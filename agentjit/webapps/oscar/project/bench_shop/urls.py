"""URLs of the bench shop: Oscar's storefront and dashboard, Django admin, language switching."""

from django.apps import apps
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # Oscar's templates reverse 'set_language'; without this every page is a 500.
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include(apps.get_app_config("oscar").urls[0])),
]
