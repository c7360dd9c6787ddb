using System.Globalization;
using System.Reflection;
using System.Text.Json;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.MLNet;

/// <summary>What an exported network is and how a chain scores it, written into the network's ONNX metadata
/// (<c>metadata_props</c>, keys <c>efficientvit.contract.*</c>) when a featurizer or classifier is fitted, so that
/// <c>LoadWithBatchedScoring</c> builds the batched step from it instead of working it out again.</summary>
/// <param name="Role">What the graph is for: <see cref="FeaturizerRole"/> or <see cref="ClassifierRole"/>.</param>
/// <param name="InputKind">What the graph's input holds.</param>
/// <param name="BatchDimension">The input's dimension that counts the images.</param>
/// <param name="OutputsBatched">False when the outputs have no batch dimension (one image per call, for ML.NET's <c>ApplyOnnxModel</c>).</param>
/// <param name="Preprocessing">With image input: the preprocessing record the graph's resize, crop and normalization follow.</param>
/// <param name="ImageColumn">With image input: the chain's column of resized images that <c>ExtractPixels</c> turns into the graph's input.</param>
/// <param name="CenteredValue">With image input: the graph's value after the resize, crop and subtraction of 255·mean, where the batched step starts.</param>
/// <param name="LibraryVersion">The EfficientViT.ML version that wrote it.</param>
internal sealed record ScoringContract(string Role, ScoringInputKind InputKind, int BatchDimension, bool OutputsBatched,
    ImagePreprocessing? Preprocessing, string? ImageColumn, string? CenteredValue, string LibraryVersion)
{
    public const string FeaturizerRole = "featurizer";
    public const string ClassifierRole = "classifier";
    private const string Prefix = "efficientvit.contract.";
    // onnx.proto: ModelProto.metadata_props, StringStringEntryProto's key and value.
    private const int ModelMetadata = 14;
    private const int EntryKey = 1;
    private const int EntryValue = 2;
    private const string MeanInitializer = "normalize_mean";
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The version of this library, as contracts record it.</summary>
    public static string CurrentLibraryVersion { get; } =
        typeof(ScoringContract).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(ScoringContract).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>The contract of a one-image-per-call graph over images (pixels 0–255 of the resized image in <paramref name="imageColumn"/>'s pixels).</summary>
    public static ScoringContract ForImages(string role, byte[] rowGraph, ImagePreprocessing preprocessing, string imageColumn) =>
        new(role, ScoringInputKind.Pixels, 0, false, preprocessing, imageColumn, CenteredValueOf(rowGraph), CurrentLibraryVersion);

    /// <summary>The contract of a one-image-per-call graph over preprocessed pixel vectors.</summary>
    public static ScoringContract ForPixelVectors(string role) =>
        new(role, ScoringInputKind.PixelVector, 0, false, null, null, null, CurrentLibraryVersion);

    /// <summary><paramref name="graph"/> with this contract added to its metadata (a repeated field may be appended to an encoded message).</summary>
    public byte[] AddTo(byte[] graph)
    {
        var writer = new ProtobufWriter(graph.Length + 1024);
        writer.WriteRaw(graph);
        foreach (var (key, value) in Entries())
            writer.WriteMessage(ModelMetadata, entry =>
            {
                entry.WriteString(EntryKey, Prefix + key);
                entry.WriteString(EntryValue, value);
            });
        return writer.ToArray();
    }

    /// <summary>The contract in <paramref name="graph"/>'s metadata, or null when it has none (a graph written before contracts).</summary>
    /// <exception cref="InvalidDataException">The contract is there but not complete or not readable.</exception>
    public static ScoringContract? Read(ReadOnlyMemory<byte> graph)
    {
        var metadata = RowGraphBatching.Metadata(graph);
        if (!metadata.TryGetValue(Prefix + "library_version", out var version))
            return null;
        string Get(string key) => metadata.TryGetValue(Prefix + key, out var value)
            ? value
            : throw new InvalidDataException($"the network's scoring contract (written by EfficientViT.ML {version}) has no '{Prefix}{key}'.");
        var kind = Get("input_kind") switch
        {
            "pixels" => ScoringInputKind.Pixels,
            "pixel_vector" => ScoringInputKind.PixelVector,
            var other => throw new InvalidDataException($"the network's scoring contract has input kind '{other}'; this version of EfficientViT.ML reads 'pixels' and 'pixel_vector'."),
        };
        ImagePreprocessing? preprocessing = null;
        if (kind == ScoringInputKind.Pixels)
        {
            try
            {
                preprocessing = JsonSerializer.Deserialize<ImagePreprocessing>(Get("preprocessing"), Json)?.Validate()
                    ?? throw new InvalidDataException("the preprocessing record is null");
            }
            catch (Exception e) when (e is JsonException or ArgumentException)
            {
                throw new InvalidDataException($"the network's scoring contract has a preprocessing record that cannot be read: {e.Message}", e);
            }
        }
        return new ScoringContract(Get("role"), kind, int.Parse(Get("batch_dimension"), CultureInfo.InvariantCulture), Get("outputs_batched") == "true",
            preprocessing, kind == ScoringInputKind.Pixels ? Get("image_column") : null, kind == ScoringInputKind.Pixels ? Get("centered_value") : null, version);
    }

    private IEnumerable<(string Key, string Value)> Entries()
    {
        yield return ("role", Role);
        yield return ("input_kind", InputKind == ScoringInputKind.Pixels ? "pixels" : "pixel_vector");
        yield return ("batch_dimension", BatchDimension.ToString(CultureInfo.InvariantCulture));
        yield return ("outputs_batched", OutputsBatched ? "true" : "false");
        if (Preprocessing is not null)
            yield return ("preprocessing", JsonSerializer.Serialize(Preprocessing, Json));
        if (ImageColumn is not null)
            yield return ("image_column", ImageColumn);
        if (CenteredValue is not null)
            yield return ("centered_value", CenteredValue);
        yield return ("library_version", LibraryVersion);
    }

    // The exporter subtracts 255·mean with one Sub of its "normalize_mean" constant, right after the resize and crop.
    private static string CenteredValueOf(byte[] graph)
    {
        var subtract = RowGraphBatching.GraphFields(graph).Where(f => f.Number == RowGraphBatching.GraphNode).Select(f => RowGraphBatching.Node.Parse(f.Payload))
            .Where(n => n is { OpType: "Sub", Inputs.Count: 2, Outputs.Count: 1 } && n.Inputs[1] == MeanInitializer).ToList();
        return subtract.Count == 1
            ? subtract[0].Outputs[0]
            : throw new InvalidOperationException($"The exported image graph has {subtract.Count} subtractions of '{MeanInitializer}'; one was expected.");
    }
}

/// <summary>What a scored graph's input holds.</summary>
internal enum ScoringInputKind
{
    /// <summary>RGB pixels 0–255 of an image of the model's size, channels first; the graph resizes, crops and normalizes.</summary>
    Pixels,
    /// <summary>Preprocessed, normalized pixels.</summary>
    PixelVector,
}
