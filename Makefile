# Two commands for a newcomer: `make demo` (no AWS account needed) and `make test`.
VENV ?= .venv
EMAIL ?= you@example.com

.PHONY: demo test down clean

demo:
	python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet '.[local]'
	$(VENV)/bin/facedetect up --local --email $(EMAIL)
	$(VENV)/bin/facedetect status --local
	@# The pipeline runs for real in the emulator: faces, stored item, notification.
	$(VENV)/bin/facedetect detect demo/astronaut.png --local

down:
	$(VENV)/bin/facedetect down --local --yes
	$(VENV)/bin/facedetect local stop

test:
	VENV=$(VENV) bash .ci/run

clean:
	-$(VENV)/bin/facedetect local stop
	rm -rf $(VENV) build dist *.egg-info
