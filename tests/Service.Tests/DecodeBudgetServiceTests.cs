using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace EfficientViT.Service.Tests;

/// <summary>A request whose image finds the decode budget taken waits, then gets 503 with Retry-After and a JSON message.</summary>
[Collection(ServiceCollection.Name)]
public class DecodeBudgetServiceTests(ServiceFixture service)
{
    [Fact]
    public async Task An_upload_that_finds_the_budget_taken_gets_503_with_retry_after_and_is_scored_once_it_is_free()
    {
        await using var app = await StartAsync(decodeMegabytes: "2", megapixels: "0.1");
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First() + "/") };
        var budget = app.Services.GetRequiredService<DecodeBudget>();
        Assert.Equal(2L << 20, budget.CapacityBytes);
        var png = await File.ReadAllBytesAsync(service.FashionMnistPngs[5]);

        // At 2 MB, the small images' lane (128 KB) takes only images of up to 8 KB: a 28x28 one (12.25 KB) waits with the rest.
        var held = await budget.TakeAsync(budget.LargestShareBytes, TimeSpan.Zero, default);
        using (var busy = await client.PostAsync("predict", TestImages.Body(png)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), busy.Headers.RetryAfter?.Delta);
            Assert.Equal("application/json", busy.Content.Headers.ContentType?.MediaType);
            var error = JsonDocument.Parse(await busy.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString();
            Assert.Contains("busy", error);
            Assert.Contains("28x28", error);
        }
        held!.Dispose();
        Assert.Equal(0, budget.UsedBytes);

        using var scored = await client.PostAsync("predict", TestImages.Body(png));
        Assert.Equal(HttpStatusCode.OK, scored.StatusCode);
        Assert.Equal(service.SerialAnswer(service.FashionMnistPngs[5]).Label, (await scored.Content.ReadFromJsonAsync<Prediction>())!.Label);
        Assert.Equal(0, budget.UsedBytes);
        var health = JsonDocument.Parse(await client.GetStringAsync("health")).RootElement;
        Assert.Equal(2, health.GetProperty("decodeBudgetMb").GetInt64());
    }

    [Fact]
    public async Task A_small_upload_is_scored_at_once_while_large_images_hold_the_rest_of_the_budget()
    {
        await using var app = await StartAsync(decodeMegabytes: "16", megapixels: "0.5");
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First() + "/") };
        var budget = app.Services.GetRequiredService<DecodeBudget>();
        Assert.Equal(15L << 20, budget.LargestShareBytes);
        var held = await budget.TakeAsync(budget.LargestShareBytes, TimeSpan.Zero, default);
        var queued = budget.TakeAsync(1L << 20, TimeSpan.FromMinutes(1), default);
        Assert.Equal(1, budget.Waiting);

        using var scored = await client.PostAsync("predict", TestImages.Body(await File.ReadAllBytesAsync(service.FashionMnistPngs[3])));
        Assert.Equal(HttpStatusCode.OK, scored.StatusCode);
        Assert.Equal(service.SerialAnswer(service.FashionMnistPngs[3]).Label, (await scored.Content.ReadFromJsonAsync<Prediction>())!.Label);
        Assert.False(queued.IsCompleted);
        held!.Dispose();
        (await queued)!.Dispose();
        Assert.Equal(0, budget.UsedBytes);
    }

    [Fact]
    public void A_budget_that_holds_no_image_of_the_largest_size_stops_start_up()
    {
        var error = Assert.Throws<ArgumentException>(() => ServiceHost.Build(["--model", service.ModelPath, "--max-decode-mb", "200"]));
        Assert.Equal("--max-decode-mb 200: an image of --max-megapixels 16.8 takes 256 MB decoded and would never fit in the 188 MB one image may take (a sixteenth of the budget is kept for small images); raise --max-decode-mb or lower --max-megapixels.", error.Message);
    }

    private async Task<WebApplication> StartAsync(string decodeMegabytes, string megapixels)
    {
        var app = ServiceHost.Build(["--model", service.ModelPath, "--max-decode-mb", decodeMegabytes, "--max-megapixels", megapixels, "--decode-wait-ms", "100",
            "--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning"]);
        await app.StartAsync();
        return app;
    }
}
