# kubefly: `make demo` and `make test` are the two set-up commands (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := build

RID ?= linux-$(shell uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')
BIN := artifacts/bin/kubefly
PREFIX ?= /usr/local
CONFIG ?= Release
# PIE=true builds a position-independent kubefly (see the csproj: it costs every pod start ~1.5 ms).
PIE ?= false
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1

# Debian packages the tests and the demo use (installed idempotently); the benchmarks' peers come on top.
DEBS := docker-registry skopeo umoci busybox-static apache2-utils curl zstd attr \
        etcd-server systemd-container debootstrap gnupg openssl squashfs-tools jq iproute2 procps util-linux gcc libc6-dev time python3 groff-base
BENCH_DEBS := hyperfine runc podman containerd

MULTICALL := rkt kubelet-wrapper etcd-wrapper flannel-wrapper

.PHONY: deb sysext build deps bench-deps install-debs test unit-test fuzz demo bench install install-compat format clean

deps:
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(DEBS)"

bench-deps:
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(DEBS) $(BENCH_DEBS)"

install-debs:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

build:
	@# The native link does not rerun for a changed property: drop its output when PIE changes.
	@stamp=src/Kubefly.Cli/obj/pie-$(PIE).stamp; if [ ! -f $$stamp ]; then \
	  rm -rf src/Kubefly.Cli/obj/$(CONFIG)/net10.0/$(RID)/native src/Kubefly.Cli/obj/pie-*.stamp; \
	  mkdir -p src/Kubefly.Cli/obj && touch $$stamp; fi
	dotnet publish src/Kubefly.Cli/Kubefly.Cli.csproj -c $(CONFIG) -r $(RID) -o artifacts/bin -v q -nologo /p:DebugType=none /p:PositionIndependentExecutable=$(PIE)
	@for n in $(MULTICALL); do ln -sf kubefly artifacts/bin/$$n; done
	@# Man pages and completions come from the binary's own command definitions.
	@rm -rf artifacts/man artifacts/completion && mkdir -p artifacts/completion
	@$(BIN) generate-man-pages artifacts/man >/dev/null
	@$(BIN) completion bash > artifacts/completion/kubefly.bash && $(BIN) completion zsh > artifacts/completion/_kubefly
	@ls -l $(BIN)

# Everything: unit tests, then the integration suite against the real binary, registry and kernel;
# the formatting check first, so a CI run fails on code dotnet format would change.
test: deps build format
	@scripts/run-tests

# The unit tests. As root: installs what they use, then runs them all. As another user (a checkout
# of one's own): runs those that need no root; the trait Requires=root marks the rest.
unit-test:
	@if [ "$$(id -u)" = 0 ]; then \
		$(MAKE) --no-print-directory deps build && scripts/run-tests --filter "Category!=Integration"; \
	else \
		$(MAKE) --no-print-directory build && scripts/run-tests --filter "Category!=Integration&Requires!=root"; \
	fi

# The property-based fuzzers (test/Kubefly.Tests/Unit/Fuzz) for longer than make test runs them:
# FUZZ_SECONDS per property (default 60).
FUZZ_SECONDS ?= 60
fuzz: build
	@KUBEFLY_FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-tests --filter "FullyQualifiedName~Kubefly.Tests.Unit.Fuzz"

demo: deps build
	@scripts/demo

bench: bench-deps build
	@scripts/bench

# Debian packages: kubefly and kubefly-rkt-compat (/usr/bin/rkt), built offline with dpkg-deb.
deb: build
	@scripts/build-deb artifacts/deb

# A systemd-sysext extension (Flatcar): artifacts/sysext/kubefly.raw and the same tree as a directory.
sysext: build
	@$(MAKE) --no-print-directory install-debs PACKAGES=squashfs-tools
	@scripts/build-sysext artifacts/sysext

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/kubefly
	@for n in $(MULTICALL); do ln -sf kubefly $(DESTDIR)$(PREFIX)/bin/$$n; done
	@for page in artifacts/man/*.[18]; do install -D -m 0644 $$page $(DESTDIR)$(PREFIX)/share/man/man$${page##*.}/$$(basename $$page); done
	install -D -m 0644 artifacts/completion/kubefly.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/kubefly
	ln -sf kubefly $(DESTDIR)$(PREFIX)/share/bash-completion/completions/rkt
	install -D -m 0644 artifacts/completion/_kubefly $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_kubefly

# The paths CoreOS units name, so the seed's units run without an edit.
install-compat: install
	install -d $(DESTDIR)/usr/bin $(DESTDIR)/usr/lib/coreos
	ln -sf $(PREFIX)/bin/kubefly $(DESTDIR)/usr/bin/rkt
	@for n in kubelet-wrapper etcd-wrapper flannel-wrapper; do ln -sf $(PREFIX)/bin/kubefly $(DESTDIR)/usr/lib/coreos/$$n; done

format:
	dotnet format kubefly.slnx --verify-no-changes

clean:
	rm -rf artifacts src/*/bin src/*/obj test/*/bin test/*/obj
