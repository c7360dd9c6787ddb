using System.Globalization;
using EfficientViT.ML.Modeling;

namespace EfficientViT.Benchmarks;

/// <summary>What to measure, read from the command line. Defaults cover the whole grid in one run.</summary>
internal sealed record BenchmarkOptions
{
    public const string Usage = """
        EfficientViT CPU inference throughput (images/s), unfused and BN-fused, in one run.

        Usage: dotnet run -c Release --project benchmarks/EfficientViT.Benchmarks -- [options]

        Options:
          --variants M0,M1,...   variants to measure            (default: M0,M1,M2,M3,M4,M5)
          --batches 1,16,64      batch sizes                     (default: 1,16,64)
          --threads 1,2          intra-op thread counts          (default: 1,2)
          --seconds 1.5          minimum timed duration of each configuration, in seconds
                                 (split into 3 rounds of at least one iteration each)
          --markdown             print the tables as Markdown
          --training             measure training steps instead (M0, Fashion-MNIST's demo setting:
                                 64x64, batch 128, AdamW; images/s at each --threads count)
          --training-profile     time a training step part by part instead (M0, batch 128, forward and
                                 backward of each layer; at each --threads count, each for 2x --seconds)
          --training-size 64     input side of --training and --training-profile (a multiple of 16;
                                 demo --long uses 112)
          --training-load        measure training steps on the idle machine and with a CPU-bound process
                                 beside them (a child spinning --load-threads threads), at 1 thread, at all
                                 cores and at the trainer's choice step by step (auto), rounds alternating;
                                 PyTorch's step under the same condition at 1 thread and all cores (as root,
                                 when --pytorch-root holds it), with this project's ratios to it
          --load-threads 1       busy threads of the --training-load child (default: cores - 1)
          --spin 1               be the load generator: spin this many threads until stdin closes
          --training-variant M0  model of --training                (default: M0)
          --training-batch 128   images per step of --training       (default: 128)
          --training-steps 3     timed steps of --training (at least) and of each --training-memory side, after
                                 2 warm-up steps (default: 3; the heap's peak grows over the first dozens of steps)
          --checkpoint-activations  --training recomputes each stage's activations in the backward pass
          --training-memory      training's peak memory and images/s, this project next to PyTorch
                                 (benchmarks/pytorch/train_step.py in its Debian root; as root), each side
                                 a child process of its own, at each --training-sizes side and --threads count
          --training-sizes 64,112,224  input sides of --training-memory (default: 64,112,224)
          --pytorch-root DIR     PyTorch's Debian root for --training-memory and
                                 --training-load (default: /opt/pytorch-trixie)
          --rounds 2             rounds of --training (and --training-memory), each measuring every thread count in turn
          --optimizers flat      AdamW updates of --training, taking turns in each round: flat (one buffer
                                 for all parameters, the trainer's) and/or per-tensor
          -h, --help             show this help
        """;

    public IReadOnlyList<EfficientVitVariant> Variants { get; init; } = Enum.GetValues<EfficientVitVariant>();
    public IReadOnlyList<int> Batches { get; init; } = [1, 16, 64];
    public IReadOnlyList<int> Threads { get; init; } = [1, 2];
    public double Seconds { get; init; } = 1.5;
    public bool Markdown { get; init; }
    public bool ShowHelp { get; init; }
    public bool Training { get; init; }
    public bool TrainingProfile { get; init; }
    public bool TrainingLoad { get; init; }
    public int LoadThreads { get; init; } = Math.Max(1, Environment.ProcessorCount - 1);
    public int? Spin { get; init; }
    public int TrainingImageSize { get; init; } = 64;
    public int TrainingRounds { get; init; } = 2;
    public EfficientVitVariant TrainingVariant { get; init; } = EfficientVitVariant.M0;
    public int TrainingBatch { get; init; } = 128;
    public int TrainingSteps { get; init; } = 3;
    public bool CheckpointActivations { get; init; }
    public bool TrainingMemory { get; init; }
    public IReadOnlyList<int> TrainingSizes { get; init; } = [64, 112, 224];
    public string PyTorchRoot { get; init; } = "/opt/pytorch-trixie";
    public IReadOnlyList<string> TrainingOptimizers { get; init; } = ["flat"];

    /// <summary>The published CPU protocol (EfficientViT paper): 1 thread, batch 16, 224x224, BN fused.</summary>
    public const int ImageSize = 224;

    /// <summary>Parses <paramref name="args"/>; throws <see cref="ArgumentException"/> with a readable message on bad input.</summary>
    public static BenchmarkOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchmarkOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "-h" or "--help":
                    options = options with { ShowHelp = true };
                    break;
                case "--markdown":
                    options = options with { Markdown = true };
                    break;
                case "--training":
                    options = options with { Training = true };
                    break;
                case "--training-load":
                    options = options with { TrainingLoad = true };
                    break;
                case "--load-threads":
                    options = options with { LoadThreads = ParsePositiveInt(arg, ValueOf(args, ref i)) };
                    break;
                case "--spin":
                    options = options with { Spin = ParsePositiveInt(arg, ValueOf(args, ref i)) };
                    break;
                case "--training-profile":
                    options = options with { TrainingProfile = true };
                    break;
                case "--training-size":
                    var side = ParsePositiveInt(arg, ValueOf(args, ref i));
                    if (side % 16 != 0)
                        throw new ArgumentException($"--training-size must be a multiple of 16; found {side}.");
                    options = options with { TrainingImageSize = side };
                    break;
                case "--training-variant":
                    options = options with { TrainingVariant = ParseVariant(ValueOf(args, ref i)) };
                    break;
                case "--training-batch":
                    options = options with { TrainingBatch = ParsePositiveInt(arg, ValueOf(args, ref i)) };
                    break;
                case "--training-steps":
                    options = options with { TrainingSteps = ParsePositiveInt(arg, ValueOf(args, ref i)) };
                    break;
                case "--training-memory":
                    options = options with { TrainingMemory = true };
                    break;
                case "--training-sizes":
                    options = options with
                    {
                        TrainingSizes = ParseList(arg, ValueOf(args, ref i), s => ParsePositiveInt(arg, s) is var side && side % 16 == 0
                            ? side : throw new ArgumentException($"--training-sizes must be multiples of 16; found {s}.")),
                    };
                    break;
                case "--pytorch-root":
                    options = options with { PyTorchRoot = ValueOf(args, ref i) };
                    break;
                case "--checkpoint-activations":
                    options = options with { CheckpointActivations = true };
                    break;
                case "--rounds":
                    options = options with { TrainingRounds = ParsePositiveInt(arg, ValueOf(args, ref i)) };
                    break;
                case "--optimizers":
                    options = options with
                    {
                        TrainingOptimizers = ParseList(arg, ValueOf(args, ref i), s => s is "flat" or "per-tensor"
                            ? s : throw new ArgumentException($"--optimizers takes flat and per-tensor; found '{s}'.")),
                    };
                    break;
                case "--variants":
                    options = options with { Variants = ParseList(arg, ValueOf(args, ref i), ParseVariant) };
                    break;
                case "--batches":
                    options = options with { Batches = ParseList(arg, ValueOf(args, ref i), s => ParsePositiveInt(arg, s)) };
                    break;
                case "--threads":
                    options = options with { Threads = ParseList(arg, ValueOf(args, ref i), s => ParsePositiveInt(arg, s)) };
                    break;
                case "--seconds":
                    var text = ValueOf(args, ref i);
                    if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !(seconds > 0))
                        throw new ArgumentException($"--seconds expects a positive number; found '{text}'.");
                    options = options with { Seconds = seconds };
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{arg}'.");
            }
        }
        return options;
    }

    private static string ValueOf(IReadOnlyList<string> args, ref int i)
    {
        if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
            throw new ArgumentException($"{args[i]} expects a value.");
        return args[++i];
    }

    // Comma-separated, duplicates dropped, order kept (the tables follow the order given).
    private static IReadOnlyList<T> ParseList<T>(string option, string text, Func<string, T> parse)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse).Distinct().ToArray();
        if (items.Length == 0)
            throw new ArgumentException($"{option} expects a comma-separated list; found '{text}'.");
        return items;
    }

    private static EfficientVitVariant ParseVariant(string text) =>
        Enum.TryParse<EfficientVitVariant>(text, ignoreCase: true, out var variant) && Enum.IsDefined(variant)
            ? variant
            : throw new ArgumentException($"Unknown variant '{text}'; expected one of {string.Join(", ", Enum.GetNames<EfficientVitVariant>())}.");

    private static int ParsePositiveInt(string option, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new ArgumentException($"{option} expects positive integers; found '{text}'.");
}
