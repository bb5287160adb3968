.PHONY: examples

# Build every example function as a deployment zip (examples/NAME/NAME.zip).
examples:
	bash scripts/build-examples.sh
