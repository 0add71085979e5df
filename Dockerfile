# The Foncier API. Configured by FONCIER_DATABASE_URL (see docker-compose.yml).

# The map page's MapLibre GL JS and /docs' Swagger UI, from the npm registry (as ./dev does).
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN SCARF_ANALYTICS=false npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/foncier

# Dependencies first, so that code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY app/__init__.py app/__init__.py
COPY geo/__init__.py geo/__init__.py
RUN pip install .

COPY . .
COPY --from=web /web/node_modules/maplibre-gl/dist/maplibre-gl.js \
     /web/node_modules/maplibre-gl/dist/maplibre-gl.css \
     /web/node_modules/maplibre-gl/LICENSE.txt app/static/vendor/
COPY --from=web /web/node_modules/swagger-ui-dist/swagger-ui-bundle.js \
     /web/node_modules/swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt \
     /web/node_modules/swagger-ui-dist/swagger-ui.css \
     /web/node_modules/swagger-ui-dist/LICENSE \
     /web/node_modules/swagger-ui-dist/NOTICE app/static/vendor/swagger-ui/
# Editable: the service finds alembic.ini and data/ beside its code.
RUN pip install --no-deps -e . && useradd --system foncier
USER foncier

EXPOSE 8000
# Migrate, then serve. FONCIER_LOAD_DEMO=1 also loads the shipped demo data.
CMD ["sh", "-c", "foncier db migrate && if [ \"${FONCIER_LOAD_DEMO:-0}\" = 1 ]; then foncier import demo; fi && exec uvicorn app.api.main:app --host 0.0.0.0 --port 8000 --proxy-headers"]
