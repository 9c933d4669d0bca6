# syntax=docker/dockerfile:1
# imagenes: one static binary on a distroless base, running as a non-root
# user. The container command is any subcommand: serve (default), janitor,
# migrate up, healthcheck.
#
#   docker build -t imagenes .
#   docker run --rm -e DATABASE_URL=... -e JWT_SECRET=... -v imagenes-data:/data -p 8080:8080 imagenes
#   docker run --rm -e DATABASE_URL=... imagenes migrate up

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=docker
# The same flags as `make build`: static (CGO off), no paths or symbols.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/imagenes ./app \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/imagenes /imagenes
# The storage folder (live images, .papelera, .tmp) must be one filesystem:
# mount one volume here, never several.
COPY --from=build --chown=65532:65532 /out/data /data
ENV STORAGE_DIR=/data \
    HTTP_ADDR=:8080 \
    LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=10s --timeout=4s --start-period=5s --retries=3 CMD ["/imagenes", "healthcheck"]
ENTRYPOINT ["/imagenes"]
CMD ["serve"]
