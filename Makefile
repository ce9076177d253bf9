# Thin wrapper around CMake.  `make demo` and `make test` are the two commands of the README.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
EBM = $(BUILD)/ebm
OUT ?= out
DEMO_EPOCHS ?= 30

.PHONY: all deps build test asan-test check demo demo-grbm demo-ebm bench compare install clean fuzz fd-classifier

all: build

deps:
	@scripts/deps.sh build

$(BUILD)/CMakeCache.txt:
	@scripts/deps.sh build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

# The whole suite (unit tests, statistical sampler tests, file-format round trips, CLI end to end).
test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
asan-test:
	@scripts/deps.sh build
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEBM_SANITIZE=ON -DEBM_BUILD_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

check: test asan-test

# Trains a 512-hidden RBM by PCD-1 on binarised Fashion-MNIST and draws samples from noise.
demo:
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory build
	@mkdir -p $(OUT)
	$(EBM) train rbm --data fashion-mnist --binarize threshold --hidden 512 --pcd 1 --chains 100 \
	    --epochs $(DEMO_EPOCHS) --batch 100 --lr 0.01 --lr-final 0 --momentum 0.5 --weight-decay 1e-4 \
	    --seed 1 --valid fashion-mnist:test --out $(OUT)/rbm.safetensors --log $(OUT)/train.csv
	$(EBM) sample $(OUT)/rbm.safetensors --n 100 --steps 1000 --png $(OUT)/samples.png --npy $(OUT)/samples.npy
	$(EBM) info $(OUT)/rbm.safetensors --filters $(OUT)/filters.png --n-filters 100 > $(OUT)/info.txt
	$(EBM) eval $(OUT)/rbm.safetensors --data fashion-mnist:test --ais | tee $(OUT)/eval.txt
	@echo
	@echo "demo done:"
	@echo "  samples from noise (1000 Gibbs sweeps): $(OUT)/samples.png"
	@echo "  hidden-unit filters:                    $(OUT)/filters.png"
	@echo "  model: $(OUT)/rbm.safetensors   training log: $(OUT)/train.csv   evaluation: $(OUT)/eval.txt"

# Trains a Gaussian-Bernoulli RBM on continuous Fashion-MNIST by CD-10 from noise (Gibbs-Langevin) and
# samples from noise with Gibbs, Langevin, Gibbs-Langevin and Gibbs-Langevin + MH, with a kernel MMD each.
demo-grbm:
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory build
	scripts/demo_grbm.sh $(EBM) $(OUT)

# Energy networks: an MLP on the 2-D toy density 8gaussians, and a small CNN on Fashion-MNIST trained by
# Langevin contrastive divergence with a replay buffer, sampled from noise, inpainting and denoising.
demo-ebm:
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory build
	scripts/demo_ebm.sh $(EBM) $(OUT)

# One epoch of CD-1 and PCD-1 at 256/512/1024 hidden units, against the machine's sgemm peak.
bench: build
	@scripts/deps.sh demo
	$(BUILD)/bench/bench_rbm

# The same, side by side with scikit-learn and PyTorch (CPU) in one run.
compare: build
	@scripts/deps.sh bench
	bench/compare_rbm.sh $(BUILD)/bench/bench_rbm

install: build
	cmake --install $(BUILD)

fuzz:
	@scripts/deps.sh fuzz
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DEBM_BUILD_FUZZ=ON -DEBM_BUILD_TESTS=OFF -DEBM_BUILD_BENCH=OFF
	cmake --build build-fuzz -j$(JOBS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz

# The fixed Fashion-MNIST classifier whose penultimate features give FD-FMNIST (ebm eval --samples);
# its output is committed as models/fd-fmnist.safetensors.  Deterministic: the same machine gives the
# same file bit for bit, whatever the thread count.
FD_NET = conv:16:3:1,silu,pool:2,conv:32:3:1,silu,pool:2,flatten,linear:64,silu,linear:10
fd-classifier:
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory build
	@mkdir -p models
	$(EBM) train jem --objective clf --data fashion-mnist --net "$(FD_NET)" --lr 1e-3 --iters 2000 --batch 128 \
	    --seed 1 --out models/fd-fmnist.safetensors
	$(EBM) classify models/fd-fmnist.safetensors --data fashion-mnist:test
