using System.Net.Http.Headers;
using System.Net.Http.Json;
using EfficientViT.ML.Data;
using EfficientViT.Service.LoadTest;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.ML;

namespace EfficientViT.Service.Tests;

/// <summary>Both scorers answer concurrent requests as the serial engine does.</summary>
[Collection(ServiceCollection.Name)]
public class ScoringModeTests(ServiceFixture service)
{
    [Fact]
    public async Task By_default_the_engine_pool_gives_each_concurrent_request_the_serial_answer()
    {
        await using var app = ServiceHost.Build(["--model", service.ModelPath, "--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning"]);
        await app.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First() + "/") };
        Assert.Equal(EnginePoolScorer.ModeName, (await client.GetFromJsonAsync<Dictionary<string, System.Text.Json.JsonElement>>("health"))!["scoring"].GetString());
        await AssertConcurrentRequestsGetTheSerialAnswers(client);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("17")]
    public async Task Batched_scoring_gives_each_concurrent_request_the_serial_answer_with_the_measured_or_a_given_smallest_batch(string? minBatch)
    {
        string[] minBatchArguments = minBatch is null ? [] : ["--min-batch", minBatch];
        await using var app = ServiceHost.Build([.. minBatchArguments, "--model", service.ModelPath, "--scoring", "batched", "--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning"]);
        await app.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First() + "/") };
        var health = (await client.GetFromJsonAsync<Dictionary<string, System.Text.Json.JsonElement>>("health"))!;
        Assert.Equal(BatchingScorer.ModeName, health["scoring"].GetString());
        // Measured: from 2 to one more than the largest batch (16 by default), which means every batch goes to engines.
        var chosen = health["minBatch"].GetInt32();
        if (minBatch is null)
            Assert.InRange(chosen, 2, 17);
        else
            Assert.Equal(int.Parse(minBatch), chosen);
        await AssertConcurrentRequestsGetTheSerialAnswers(client);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("two")]
    public void A_smallest_batch_out_of_range_is_refused_by_name(string value)
    {
        var configuration = new ConfigurationBuilder().AddCommandLine(["--min-batch", value]).Build();
        var error = Assert.Throws<ArgumentException>(() => ServiceOptions.From(configuration));
        Assert.Contains($"--min-batch {value}", error.Message);
    }

    private async Task AssertConcurrentRequestsGetTheSerialAnswers(HttpClient client)
    {
        var files = service.FashionMnistPngs.Append(service.ColourPhoto).ToArray();
        var answers = await Task.WhenAll(Enumerable.Range(0, 33).Select(async i =>
        {
            var file = files[i % files.Length];
            using var content = new ByteArrayContent(await File.ReadAllBytesAsync(file));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var response = await client.PostAsync("predict", content);
            response.EnsureSuccessStatusCode();
            return (File: file, Answer: (await response.Content.ReadFromJsonAsync<Prediction>())!);
        }));
        foreach (var (file, answer) in answers)
            Assert.True(LoadRunner.Matches(answer, service.SerialAnswer(file), 1e-6f), file);
    }
}
