namespace EfficientViT.ML.Checkpoints.Pretrained;

/// <summary>
/// Where pretrained weights are cached and how they are downloaded. <see cref="FromEnvironment"/> reads the
/// environment variables; the properties let an application (or a test) set them in code.
/// </summary>
public sealed record PretrainedWeightsOptions
{
    /// <summary>The cache folder's variable: used as the folder itself.</summary>
    public const string HomeVariable = "EFFICIENTVIT_HOME";

    /// <summary>Set to <c>1</c> (or <c>true</c>) to forbid every network access: only cached or packaged files are used.</summary>
    public const string OfflineVariable = "EFFICIENTVIT_OFFLINE";

    /// <summary>A base URL that serves the weight files under their cache file names, used instead of the publishers' URLs.</summary>
    public const string MirrorVariable = "EFFICIENTVIT_WEIGHTS_URL";

    /// <summary>Seconds a download may go without receiving a byte (and the connect timeout) before it fails.</summary>
    public const string TimeoutVariable = "EFFICIENTVIT_DOWNLOAD_TIMEOUT";

    /// <summary>The folder of the application's output where weights packages put their files.</summary>
    public const string PackagedFolderName = "efficientvit-weights";

    /// <summary>The cache folder; default <see cref="DefaultCacheFolder"/>.</summary>
    public string CacheFolder { get; init; } = DefaultCacheFolder();

    /// <summary>Never touch the network; a file neither packaged nor cached is an error naming it.</summary>
    public bool Offline { get; init; }

    /// <summary>A mirror's base URL; each file is fetched from <c>{MirrorUrl}/{FileName}</c>. Null: the publishers' URLs.</summary>
    public Uri? MirrorUrl { get; init; }

    /// <summary>How long a download may wait for a connection or for the next bytes. Default 60 s.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Redirects followed per download (GitHub and Hugging Face answer with one or two). Default 5.</summary>
    public int MaxRedirects { get; init; } = 5;

    /// <summary>
    /// The application's folder searched for packaged weights (in its <see cref="PackagedFolderName"/> subfolder) before
    /// the cache. Default: <see cref="AppContext.BaseDirectory"/>.
    /// </summary>
    public string? ApplicationFolder { get; init; } = AppContext.BaseDirectory;

    /// <summary>Receives the progress of downloads; default: a line on standard error every few seconds (<see cref="StandardErrorDownloadProgress"/>).</summary>
    public IProgress<DownloadProgress>? Progress { get; init; } = new StandardErrorDownloadProgress();

    /// <summary>Options from the environment variables (<see cref="HomeVariable"/>, <see cref="OfflineVariable"/>, <see cref="MirrorVariable"/>, <see cref="TimeoutVariable"/>).</summary>
    /// <exception cref="ArgumentException">A variable holds a value that cannot be used; the message names it.</exception>
    public static PretrainedWeightsOptions FromEnvironment()
    {
        var options = new PretrainedWeightsOptions();
        var offline = Environment.GetEnvironmentVariable(OfflineVariable);
        if (!string.IsNullOrEmpty(offline))
        {
            options = offline.Trim().ToLowerInvariant() switch
            {
                "1" or "true" or "yes" or "on" => options with { Offline = true },
                "0" or "false" or "no" or "off" => options,
                _ => throw new ArgumentException($"{OfflineVariable}={offline}: expected 1 or 0."),
            };
        }
        var mirror = Environment.GetEnvironmentVariable(MirrorVariable);
        if (!string.IsNullOrWhiteSpace(mirror))
        {
            if (!Uri.TryCreate(mirror.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                throw new ArgumentException($"{MirrorVariable}={mirror}: expected an http:// or https:// URL.");
            options = options with { MirrorUrl = uri };
        }
        var timeout = Environment.GetEnvironmentVariable(TimeoutVariable);
        if (!string.IsNullOrWhiteSpace(timeout))
        {
            if (!double.TryParse(timeout, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) || !(seconds > 0) || !double.IsFinite(seconds))
                throw new ArgumentException($"{TimeoutVariable}={timeout}: expected a positive number of seconds.");
            options = options with { Timeout = TimeSpan.FromSeconds(seconds) };
        }
        return options;
    }

    /// <summary>
    /// <c>EFFICIENTVIT_HOME</c>, else <c>$XDG_CACHE_HOME/efficientvit</c>, else the platform's cache folder:
    /// <c>~/.cache/efficientvit</c> on Linux, <c>~/Library/Caches/efficientvit</c> on macOS, <c>%LOCALAPPDATA%\efficientvit</c> on Windows.
    /// </summary>
    public static string DefaultCacheFolder()
    {
        if (Environment.GetEnvironmentVariable(HomeVariable) is { Length: > 0 } home)
            return Path.GetFullPath(home);
        if (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg)
            return Path.Combine(Path.GetFullPath(xdg), "efficientvit");
        if (OperatingSystem.IsWindows())
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "efficientvit");
        var user = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return OperatingSystem.IsMacOS()
            ? Path.Combine(user, "Library", "Caches", "efficientvit")
            : Path.Combine(user, ".cache", "efficientvit");
    }

    /// <summary>The URL <paramref name="model"/> is downloaded from with these options.</summary>
    public Uri UrlOf(PretrainedModel model) =>
        MirrorUrl is { } mirror ? new Uri(mirror.AbsoluteUri.TrimEnd('/') + "/" + Uri.EscapeDataString(model.FileName)) : model.Url;
}
