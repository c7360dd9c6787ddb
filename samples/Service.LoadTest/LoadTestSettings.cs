using System.Globalization;

namespace EfficientViT.Service.LoadTest;

/// <summary>The load test's command line.</summary>
public sealed record LoadTestSettings
{
    public string? ModelPath { get; init; }

    public string? SaveModelPath { get; init; }

    public int Clients { get; init; } = 8;

    public int Requests { get; init; } = 400;

    public int SingleClientRequests { get; init; } = 100;

    public int Rounds { get; init; } = 2;

    public int Images { get; init; } = 32;

    public int MaxBatch { get; init; } = 16;

    public int DirectImages { get; init; } = 64;

    public double BatchWaitMs { get; init; } = 2;

    public int RowThreads { get; init; } = new ServiceOptions().RowThreads;

    // Null: the service measures it at start-up.
    public int? MinBatch { get; init; }

    // Batched ONNX scoring (the model fitted in memory) and ML.NET's one-row scoring differ in the last bits.
    public float Tolerance { get; init; } = 1e-4f;

    // --memory: bursts of large images against the service run as a process of its own.
    public bool Memory { get; init; }

    public int Uploads { get; init; } = 64;

    // 4096x4096 = 16.8 MP, just under the service's default limit.
    public int ImageSide { get; init; } = 4096;

    // The second burst runs the service under this address-space limit (0: none).
    public double AddressSpaceGigabytes { get; init; } = 3;

    // --soak: a fixed number of good, large and malformed uploads, within a time limit.
    public bool Soak { get; init; }

    public int SoakRequests { get; init; } = 300;

    public int SoakSeconds { get; init; } = 180;

    // The service assembly the memory and soak runs start; by default the one built beside the load test.
    public string ServiceAssembly { get; init; } = Path.Combine(AppContext.BaseDirectory, "EfficientViT.Service.dll");

    // More arguments for the service in those runs.
    public IReadOnlyList<string> ServiceArguments { get; init; } = [];

    public static LoadTestSettings Parse(string[] args)
    {
        var settings = new LoadTestSettings();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Count(int min) => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min
                ? n : throw new ArgumentException($"{args[i - 1]} {args[i]}: expected a whole number of at least {min}");
            settings = args[i] switch
            {
                "--model" => settings with { ModelPath = Value() },
                "--save-model" => settings with { SaveModelPath = Value() },
                "--clients" => settings with { Clients = Count(1) },
                "--requests" => settings with { Requests = Count(1) },
                "--single-client-requests" => settings with { SingleClientRequests = Count(1) },
                "--rounds" => settings with { Rounds = Count(1) },
                "--images" => settings with { Images = Count(1) },
                "--max-batch" => settings with { MaxBatch = Count(1) },
                "--batch-wait-ms" => settings with { BatchWaitMs = double.Parse(Value(), CultureInfo.InvariantCulture) },
                "--row-threads" => settings with { RowThreads = Count(1) },
                "--min-batch" => settings with { MinBatch = Count(2) },
                "--memory" => settings with { Memory = true },
                "--uploads" => settings with { Uploads = Count(1) },
                "--image-side" => settings with { ImageSide = Count(1) },
                "--address-space-gb" => settings with { AddressSpaceGigabytes = double.Parse(Value(), CultureInfo.InvariantCulture) },
                "--soak" => settings with { Soak = true },
                "--soak-requests" => settings with { SoakRequests = Count(1) },
                "--soak-seconds" => settings with { SoakSeconds = Count(1) },
                "--service" => settings with { ServiceAssembly = Value() },
                "--service-arg" => settings with { ServiceArguments = [.. settings.ServiceArguments, Value()] },
                // Short enough for CI: a few seconds per configuration.
                "--quick" => settings with { Requests = 96, SingleClientRequests = 24, Rounds = 1, Images = 16, DirectImages = 32 },
                _ => throw new ArgumentException($"unknown option '{args[i]}'; options: --model PATH, --save-model PATH, --clients N, --requests N, --single-client-requests N, --rounds N, --images N, --max-batch N, --batch-wait-ms MS, --row-threads N, --min-batch N, --quick, --memory [--uploads N] [--image-side N] [--address-space-gb GB], --soak [--soak-requests N] [--soak-seconds S], --service PATH, --service-arg ARG"),
            };
        }
        return settings;
    }
}
