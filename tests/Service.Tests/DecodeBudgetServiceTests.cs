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
        await using var app = ServiceHost.Build(["--model", service.ModelPath, "--max-decode-mb", "2", "--max-megapixels", "0.1", "--decode-wait-ms", "100",
            "--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning"]);
        await app.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First() + "/") };
        var budget = app.Services.GetRequiredService<DecodeBudget>();
        Assert.Equal(2L << 20, budget.CapacityBytes);
        var png = await File.ReadAllBytesAsync(service.FashionMnistPngs[5]);

        var held = await budget.TakeAsync(budget.CapacityBytes, TimeSpan.Zero, default);
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
    public void A_budget_that_holds_no_image_of_the_largest_size_stops_start_up()
    {
        var error = Assert.Throws<ArgumentException>(() => ServiceHost.Build(["--model", service.ModelPath, "--max-decode-mb", "200"]));
        Assert.Equal("--max-decode-mb 200: an image of --max-megapixels 16.8 takes 256 MB decoded and would never fit; raise --max-decode-mb or lower --max-megapixels.", error.Message);
    }
}
