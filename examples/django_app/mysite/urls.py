from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.urls import include, path


@login_required
def me(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"username": request.user.get_username()})


urlpatterns = [path("login/card/", include("twcert.contrib.django.urls")), path("me/", me)]
