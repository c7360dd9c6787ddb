using EfficientViT.ML.Modeling;

namespace EfficientViT.ML.Checkpoints.Pretrained;

/// <summary>
/// The ImageNet-1k weights of EfficientViT M0–M5 by name: the official model zoo's files (<c>m0</c> … <c>m5</c>) and
/// timm's copies (<c>efficientvit_m0.r224_in1k</c> … , as timm names them). A name is accepted wherever a checkpoint
/// path is (the featurizer's and the trainer's <c>ModelPath</c>, the command line's <c>--weights</c>); the first use
/// downloads the file into the cache, later uses read it from there.
/// </summary>
/// <example>
/// <code>
/// using var loaded = EfficientVitPretrained.Load(EfficientVitPretrained.M4);
/// var featurizer = mlContext.Transforms.EfficientVitFeaturize("Features", "Image", modelPath: EfficientVitPretrained.M0);
/// string path = EfficientVitPretrained.Resolve("m0");   // the cached file, downloaded if needed
/// </code>
/// </example>
public static class EfficientVitPretrained
{
    /// <summary>The official EfficientViT-M0 (ImageNet-1k, 224×224, top-1 63.2%).</summary>
    public const string M0 = "m0";

    /// <summary>The official EfficientViT-M1 (ImageNet-1k, 224×224, top-1 68.4%).</summary>
    public const string M1 = "m1";

    /// <summary>The official EfficientViT-M2 (ImageNet-1k, 224×224, top-1 70.8%).</summary>
    public const string M2 = "m2";

    /// <summary>The official EfficientViT-M3 (ImageNet-1k, 224×224, top-1 73.4%).</summary>
    public const string M3 = "m3";

    /// <summary>The official EfficientViT-M4 (ImageNet-1k, 224×224, top-1 74.3%).</summary>
    public const string M4 = "m4";

    /// <summary>The official EfficientViT-M5 (ImageNet-1k, 224×224, top-1 77.1%).</summary>
    public const string M5 = "m5";

    private const string OfficialRelease = "https://github.com/xinyuliu-jeffrey/EfficientViT_Model_Zoo/releases/download/v1.0/";

    /// <summary>Every name this library knows, official first.</summary>
    public static IReadOnlyList<PretrainedModel> Models { get; } = Enum.GetValues<EfficientVitVariant>().Select(Official)
        .Concat(Enum.GetValues<EfficientVitVariant>().Select(Timm)).ToArray();

    /// <summary>The names, in <see cref="Models"/>' order.</summary>
    public static IReadOnlyList<string> Names => Models.Select(m => m.Name).ToArray();

    /// <summary>timm's name of a variant's ImageNet-1k weights: <c>efficientvit_m0.r224_in1k</c>.</summary>
    public static string TimmName(EfficientVitVariant variant) => $"efficientvit_{variant.ToString().ToLowerInvariant()}.r224_in1k";

    /// <summary>The model called <paramref name="name"/> (a name or an alias, any case), or null.</summary>
    public static PretrainedModel? Find(string name) => Models.FirstOrDefault(m => m.IsCalled(name.Trim()));

    /// <summary>The model called <paramref name="name"/> (a name or an alias, any case).</summary>
    /// <exception cref="PretrainedWeightsException">No model has that name; the message lists the names.</exception>
    public static PretrainedModel Get(string name) => Find(name) ?? throw UnknownName(name, "not a pretrained name");

    /// <summary>Whether <paramref name="value"/> is one of <see cref="Names"/> (or an alias).</summary>
    public static bool IsName(string value) => Find(value) is not null;

    /// <summary>
    /// The file to load for <paramref name="nameOrPath"/>: for a name, the packaged, cached or freshly downloaded and
    /// verified file; anything else is returned as it is, as a path. A name wins over a file of the same name in the
    /// current folder (write <c>./m0</c> for the file).
    /// </summary>
    /// <param name="nameOrPath">A name of <see cref="Names"/> or a checkpoint path.</param>
    /// <param name="options">Cache, mirror, offline mode and progress; default <see cref="PretrainedWeightsOptions.FromEnvironment"/>.</param>
    /// <exception cref="PretrainedWeightsException">The weights cannot be found, downloaded or verified; or the value is neither a file nor a name (the message lists the names).</exception>
    public static string Resolve(string nameOrPath, PretrainedWeightsOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrPath);
        if (Find(nameOrPath) is { } model)
            return Resolve(model, options);
        if (!File.Exists(nameOrPath) && !Directory.Exists(nameOrPath) && LooksLikeName(nameOrPath))
            throw UnknownName(nameOrPath, "neither a file nor a pretrained name");
        return nameOrPath;
    }

    /// <summary>The file of <paramref name="model"/>: packaged, cached, or downloaded and verified (see <see cref="Resolve(string, PretrainedWeightsOptions?)"/>).</summary>
    /// <exception cref="PretrainedWeightsException">The weights cannot be found, downloaded or verified.</exception>
    public static string Resolve(PretrainedModel model, PretrainedWeightsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return WeightsStore.Resolve(model, options ?? PretrainedWeightsOptions.FromEnvironment());
    }

    /// <summary>Loads the checkpoint <paramref name="nameOrPath"/> names (see <see cref="Resolve(string, PretrainedWeightsOptions?)"/>).</summary>
    /// <exception cref="PretrainedWeightsException">The weights cannot be found, downloaded or verified.</exception>
    /// <exception cref="CheckpointException">The file cannot be loaded with <paramref name="loadOptions"/>.</exception>
    public static LoadedCheckpoint Load(string nameOrPath, CheckpointLoadOptions? loadOptions = null, PretrainedWeightsOptions? options = null) =>
        EfficientVitCheckpoint.Load(Resolve(nameOrPath, options), loadOptions);

    private static PretrainedWeightsException UnknownName(string value, string problem) =>
        new(value, null, $"{problem}; the names are {string.Join(", ", Names)}");

    // "m9" or "timm/x" was meant as a name; "weights.pth" or "runs/best/model.safetensors" as a path, which the loader
    // reports as missing in its own words.
    private static bool LooksLikeName(string value) =>
        value.StartsWith("timm/", StringComparison.OrdinalIgnoreCase)
        || (value.IndexOfAny(['/', '\\', '.']) < 0);

    private static PretrainedModel Official(EfficientVitVariant variant)
    {
        var lower = variant.ToString().ToLowerInvariant();
        return new PretrainedModel
        {
            Name = lower,
            Aliases = [$"efficientvit_{lower}"],
            FileName = $"efficientvit_{lower}.pth",
            Url = new Uri($"{OfficialRelease}efficientvit_{lower}.pth"),
            Variant = variant,
            Format = CheckpointFormat.OfficialPyTorch,
            Source = "official model zoo (microsoft/Cream, EfficientViT/classification; release v1.0 of xinyuliu-jeffrey/EfficientViT_Model_Zoo), ImageNet-1k, 224",
            Licence = "MIT",
        };
    }

    private static PretrainedModel Timm(EfficientVitVariant variant)
    {
        var name = TimmName(variant);
        return new PretrainedModel
        {
            Name = name,
            Aliases = [$"timm/{name}"],
            FileName = $"{name}.safetensors",
            Url = new Uri($"https://huggingface.co/timm/{name}/resolve/main/model.safetensors"),
            Variant = variant,
            Format = CheckpointFormat.TimmSafeTensors,
            Source = $"timm (Hugging Face hub, timm/{name}), the official weights renamed, ImageNet-1k, 224",
            Licence = "MIT",
        };
    }
}
