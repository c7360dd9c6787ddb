using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EfficientViT.Service.Tests;

/// <summary>
/// Headless Chromium driven through chromedriver's W3C WebDriver HTTP API (Debian's chromium and
/// chromium-driver packages, installed by scripts/setup.sh): just the commands the page test needs.
/// </summary>
internal sealed class ChromeDriver : IAsyncDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public const string DriverPath = "/usr/bin/chromedriver";
    private const string ElementKey = "element-6066-11e4-a52e-4f735466cecf";

    private readonly Process process;
    private readonly HttpClient http;
    private string session = "";

    private ChromeDriver(Process process, HttpClient http)
    {
        this.process = process;
        this.http = http;
    }

    /// <summary>Starts chromedriver on a free loopback port and opens a headless Chromium session.</summary>
    public static async Task<ChromeDriver> StartAsync()
    {
        foreach (var path in new[] { ChromiumPath, DriverPath })
            if (!File.Exists(path))
                throw new FileNotFoundException($"'{path}' not found: install Debian's chromium and chromium-driver packages (bash scripts/setup.sh does it).", path);
        var capabilities = new JsonObject
        {
            ["capabilities"] = new JsonObject
            {
                ["alwaysMatch"] = new JsonObject
                {
                    ["goog:chromeOptions"] = new JsonObject
                    {
                        ["binary"] = ChromiumPath,
                        // --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
                        ["args"] = new JsonArray("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"),
                    },
                },
            },
        };
        var port = FreePort();
        var process = Process.Start(new ProcessStartInfo(DriverPath, [$"--port={port}", "--allowed-ips=127.0.0.1"])
            { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var driver = new ChromeDriver(process, new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromMinutes(2) });
        try
        {
            await driver.WaitUntilReadyAsync();
            var answer = await driver.CommandAsync(HttpMethod.Post, "session", capabilities);
            driver.session = answer["sessionId"]!.GetValue<string>();
            return driver;
        }
        catch
        {
            await driver.DisposeAsync();
            throw;
        }
    }

    public Task NavigateAsync(Uri url) => CommandAsync(HttpMethod.Post, $"session/{session}/url", new JsonObject { ["url"] = url.ToString() });

    /// <summary>The element matching <paramref name="css"/>, or null.</summary>
    public async Task<string?> FindAsync(string css) => (await FindAllAsync(css)).FirstOrDefault();

    public async Task<IReadOnlyList<string>> FindAllAsync(string css)
    {
        var found = await CommandAsync(HttpMethod.Post, $"session/{session}/elements", new JsonObject { ["using"] = "css selector", ["value"] = css });
        return found.AsArray().Select(e => e![ElementKey]!.GetValue<string>()).ToArray();
    }

    /// <summary>Types into an element; for a file input, the text is the path of the file to choose.</summary>
    public Task SendKeysAsync(string element, string text) =>
        CommandAsync(HttpMethod.Post, $"session/{session}/element/{element}/value", new JsonObject { ["text"] = text });

    public async Task<string> TextAsync(string element) =>
        (await CommandAsync(HttpMethod.Get, $"session/{session}/element/{element}/text", null)).GetValue<string>();

    public async Task<string?> AttributeAsync(string element, string name) =>
        (await CommandAsync(HttpMethod.Get, $"session/{session}/element/{element}/attribute/{name}", null))?.GetValue<string>();

    /// <summary>Runs a script in the page and returns its value.</summary>
    public async Task<JsonNode?> ExecuteAsync(string script) =>
        await CommandAsync(HttpMethod.Post, $"session/{session}/execute/sync", new JsonObject { ["script"] = script, ["args"] = new JsonArray() });

    /// <summary>Polls until <paramref name="css"/> matches an element with text, or fails after <paramref name="limit"/>.</summary>
    public async Task<string> WaitForTextAsync(string css, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await FindAsync(css) is { } element && await TextAsync(element) is { Length: > 0 } text)
                return text;
            if (clock.Elapsed > limit)
                throw new TimeoutException($"no text in '{css}' after {limit.TotalSeconds:F0} s");
            await Task.Delay(100);
        }
    }

    private async Task WaitUntilReadyAsync()
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var status = await http.GetFromJsonAsync<JsonObject>("status");
                if (status?["value"]?["ready"]?.GetValue<bool>() == true)
                    return;
            }
            catch (HttpRequestException) when (clock.Elapsed < TimeSpan.FromSeconds(30))
            {
            }
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                throw new TimeoutException("chromedriver did not become ready in 30 s");
            await Task.Delay(100);
        }
    }

    private async Task<JsonNode> CommandAsync(HttpMethod method, string path, JsonObject? body)
    {
        using var request = new HttpRequestMessage(method, path);
        // With a Content-Length: chromedriver drops chunked requests (JsonContent streams without one).
        if (body is not null)
            request.Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"WebDriver {method} /{path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!["value"] ?? JsonValue.Create((string?)null)!;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (session.Length > 0)
                await CommandAsync(HttpMethod.Delete, $"session/{session}", null);
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException)
        {
        }
        if (!process.HasExited)
            process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        process.Dispose();
        http.Dispose();
    }
}
