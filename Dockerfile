# Builds the one paysync binary; the role is chosen at run time.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /paysync ./cmd/paysync

FROM gcr.io/distroless/static-debian12
COPY --from=build /paysync /paysync
USER nonroot
ENTRYPOINT ["/paysync"]
CMD ["serve"]
