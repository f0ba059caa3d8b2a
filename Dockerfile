# Builds the one paysync binary; the role is chosen at run time.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /paysync ./cmd/paysync
# The runtime image has no shell to create it: /data is made here, owned
# by distroless's nonroot user (65532).
RUN mkdir /data

FROM gcr.io/distroless/static-debian12
COPY --from=build /paysync /paysync
COPY --from=build --chown=65532:65532 /data /data
# Without DATABASE_URL the SQLite file lives in the /data volume, writable
# by the non-root user; set DATABASE_URL=postgres://... for PostgreSQL.
ENV DATABASE_URL=/data/paysync.db
WORKDIR /data
VOLUME /data
USER nonroot
EXPOSE 8080
# No curl in a distroless image: paysync GETs its own /healthz.
HEALTHCHECK --interval=10s --timeout=5s --retries=3 CMD ["/paysync", "healthcheck"]
ENTRYPOINT ["/paysync"]
CMD ["serve"]
