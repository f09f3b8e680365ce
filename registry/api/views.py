"""Registry resources under /api/v1/models/ and the seed's /api/models, /api/models/register."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.envelope import envelope, envelope_serializer
from core.roles import Role
from registry import selectors, services
from registry.api.serializers import (
    ModelOutputSerializer,
    PolicyInputSerializer,
    PolicyOutputSerializer,
    RegisterInputSerializer,
    RegisterJSONInputSerializer,
    StageInputSerializer,
    VersionCreateInputSerializer,
    VersionCreateJSONInputSerializer,
    VersionOutputSerializer,
    register_request,
)

READERS = {Role.MONITOR, Role.AUDITOR, Role.ADMIN}
ADMIN = {Role.ADMIN}
REGISTER_PARSERS = [JSONParser, MultiPartParser, FormParser]


def _register(request: Request, data: dict) -> object:
    return services.register_model(registered_by=request.user, **data)


class ModelListView(APIView):
    """Registered models with their versions and the policy in force. Admins register new ones."""

    required_roles = {"GET": READERS, "POST": ADMIN}
    parser_classes = REGISTER_PARSERS

    @extend_schema(responses=ModelOutputSerializer(many=True), tags=["registry"])
    def get(self, request: Request) -> Response:
        return Response(ModelOutputSerializer(selectors.model_list(), many=True).data)

    @extend_schema(
        request=register_request(RegisterInputSerializer, RegisterJSONInputSerializer),
        responses={201: VersionOutputSerializer},
        tags=["registry"],
    )
    def post(self, request: Request) -> Response:
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            VersionOutputSerializer(_register(request, data.validated_data)).data, status=status.HTTP_201_CREATED
        )


class ModelDetailView(APIView):
    required_roles = {"GET": READERS}

    @extend_schema(responses=ModelOutputSerializer, tags=["registry"])
    def get(self, request: Request, name: str) -> Response:
        return Response(ModelOutputSerializer(selectors.model_by_name(name)).data)


class VersionListView(APIView):
    """Versions of one model; admins add a version (JSON, or multipart with a joblib artifact)."""

    required_roles = {"GET": READERS, "POST": ADMIN}
    parser_classes = REGISTER_PARSERS

    @extend_schema(responses=VersionOutputSerializer(many=True), tags=["registry"])
    def get(self, request: Request, name: str) -> Response:
        versions = selectors.version_list(selectors.model_by_name(name))
        return Response(VersionOutputSerializer(versions, many=True).data)

    @extend_schema(
        request=register_request(VersionCreateInputSerializer, VersionCreateJSONInputSerializer),
        responses={201: VersionOutputSerializer},
        tags=["registry"],
    )
    def post(self, request: Request, name: str) -> Response:
        selectors.model_by_name(name)
        data = VersionCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = _register(request, {"name": name, **data.validated_data})
        return Response(VersionOutputSerializer(version).data, status=status.HTTP_201_CREATED)


class VersionDetailView(APIView):
    required_roles = {"GET": READERS, "PATCH": ADMIN}

    @extend_schema(responses=VersionOutputSerializer, tags=["registry"])
    def get(self, request: Request, name: str, version: str) -> Response:
        return Response(VersionOutputSerializer(selectors.version_by_name(name, version)).data)

    @extend_schema(request=StageInputSerializer, responses=VersionOutputSerializer, tags=["registry"])
    def patch(self, request: Request, name: str, version: str) -> Response:
        # A PATCH names only what changes (and the schema says so); a body without a stage changes nothing.
        data = StageInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        model_version = selectors.version_by_name(name, version)
        if "stage" not in data.validated_data:
            return Response(VersionOutputSerializer(model_version).data)
        updated = services.version_set_stage(
            model_version=model_version, stage=data.validated_data["stage"], changed_by=request.user
        )
        return Response(VersionOutputSerializer(updated).data)


class PolicyListView(APIView):
    """A model's policy versions, newest (in force) first; admins put a new version in force."""

    required_roles = {"GET": READERS, "POST": ADMIN}

    @extend_schema(responses=PolicyOutputSerializer(many=True), tags=["registry"])
    def get(self, request: Request, name: str) -> Response:
        return Response(PolicyOutputSerializer(selectors.policy_list(selectors.model_by_name(name)), many=True).data)

    @extend_schema(request=PolicyInputSerializer, responses={201: PolicyOutputSerializer}, tags=["registry"])
    def post(self, request: Request, name: str) -> Response:
        model = selectors.model_by_name(name)
        data = PolicyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.policy_create(model=model, created_by=request.user, **data.validated_data)
        return Response(PolicyOutputSerializer(policy).data, status=status.HTTP_201_CREATED)


class SeedModelsView(APIView):
    """Seed endpoint: the registered models (monitor role and up)."""

    required_roles = {"GET": READERS}

    @extend_schema(
        responses=envelope_serializer(
            "Models",
            inline_serializer(
                "ModelCatalog", {"models": ModelOutputSerializer(many=True), "count": serializers.IntegerField()}
            ),
        ),
        tags=["seed"],
    )
    def get(self, request: Request) -> Response:
        models = ModelOutputSerializer(selectors.model_list(), many=True).data
        return envelope({"models": models, "count": len(models)}, f"{len(models)} registered model(s)")


class SeedRegisterView(APIView):
    """Seed endpoint: register a model version (admin); JSON, or multipart with an artifact file."""

    required_roles = {"POST": ADMIN}
    parser_classes = REGISTER_PARSERS

    @extend_schema(
        request=register_request(RegisterInputSerializer, RegisterJSONInputSerializer),
        responses={201: envelope_serializer("Registered", VersionOutputSerializer())},
        tags=["seed"],
    )
    def post(self, request: Request) -> Response:
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = _register(request, data.validated_data)
        return envelope(VersionOutputSerializer(version).data, f"registered {version}", status=201)
