using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using EfficientViT.Service.LoadTest;

namespace EfficientViT.Service.Tests;

/// <summary><c>POST /predict</c> on real image files answers what the model answers for the same image alone.</summary>
[Collection(ServiceCollection.Name)]
public class PredictTests(ServiceFixture service)
{
    // The service and the reference run the same loaded chain, one ONNX Runtime call per image.
    private const float Tolerance = 1e-6f;

    [Fact]
    public async Task Fashion_mnist_pngs_sent_as_raw_bodies_get_the_serial_answer()
    {
        foreach (var file in service.FashionMnistPngs)
        {
            var answer = await PostRawAsync(file, "image/png");
            AssertSameAnswer(service.SerialAnswer(file), answer, file);
            Assert.Equal((28, 28), (answer.Width, answer.Height));
            Assert.Equal(Prediction.TopCount, answer.Top.Count);
            Assert.Equal(answer.Top.Select(t => t.Probability).OrderByDescending(p => p), answer.Top.Select(t => t.Probability));
            Assert.All(answer.Top, t => Assert.Contains(t.Label, service.ClassNames));
            Assert.Equal(5, answer.Top.Select(t => t.Label).Distinct().Count());
        }
    }

    [Fact]
    public async Task The_fashion_mnist_pngs_do_not_all_get_the_same_answer()
    {
        // Guards the comparisons above against a model that answers the same whatever the image.
        var answers = new List<Prediction>();
        foreach (var file in service.FashionMnistPngs)
            answers.Add(await PostRawAsync(file, "image/png"));
        Assert.True(answers.Select(a => a.Probability).Distinct().Count() > 1);
        Assert.True(answers.Select(a => a.Label).Distinct().Count() > 1, string.Join(", ", answers.Select(a => a.Label)));
    }

    [Fact]
    public async Task A_colour_jpeg_gets_the_serial_answer()
    {
        var answer = await PostRawAsync(service.ColourPhoto, "image/jpeg");
        AssertSameAnswer(service.SerialAnswer(service.ColourPhoto), answer, service.ColourPhoto);
        Assert.Equal((320, 240), (answer.Width, answer.Height));
    }

    [Fact]
    public async Task A_multipart_file_upload_gets_the_same_answer_as_the_raw_body()
    {
        var file = service.FashionMnistPngs[3];
        using var form = new MultipartFormDataContent();
        var part = new ByteArrayContent(await File.ReadAllBytesAsync(file));
        part.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(part, "file", Path.GetFileName(file));
        using var response = await service.Client.PostAsync("predict", form);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertSameAnswer(service.SerialAnswer(file), (await response.Content.ReadFromJsonAsync<Prediction>())!, file);
    }

    [Fact]
    public async Task Concurrent_requests_each_get_the_serial_answer_for_their_own_image()
    {
        var files = service.FashionMnistPngs.Append(service.ColourPhoto).ToArray();
        var requests = Enumerable.Range(0, 48).Select(async i =>
        {
            var file = files[i % files.Length];
            return (File: file, Answer: await PostRawAsync(file, "application/octet-stream"));
        });
        foreach (var (file, answer) in await Task.WhenAll(requests))
            AssertSameAnswer(service.SerialAnswer(file), answer, file);
    }

    [Fact]
    public async Task Health_names_the_model_and_the_scoring()
    {
        var health = await service.Client.GetFromJsonAsync<Dictionary<string, System.Text.Json.JsonElement>>("health");
        Assert.Equal("ok", health!["status"].GetString());
        Assert.Equal(service.ModelPath, health["model"].GetString());
        Assert.Equal(10, health["classes"].GetInt32());
        Assert.Equal(BatchingScorer.ModeName, health["scoring"].GetString());
    }

    private async Task<Prediction> PostRawAsync(string file, string contentType)
    {
        using var content = new ByteArrayContent(await File.ReadAllBytesAsync(file));
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var response = await service.Client.PostAsync("predict", content);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{file}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<Prediction>())!;
    }

    private static void AssertSameAnswer(Prediction expected, Prediction answer, string file)
    {
        Assert.True(LoadRunner.Matches(answer, expected, Tolerance),
            $"{file}: expected {string.Join(", ", expected.Top.Select(t => $"{t.Label} {t.Probability:F7}"))}; got {string.Join(", ", answer.Top.Select(t => $"{t.Label} {t.Probability:F7}"))}");
        Assert.Equal((expected.Width, expected.Height), (answer.Width, answer.Height));
    }
}
