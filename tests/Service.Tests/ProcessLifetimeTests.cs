using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EfficientViT.Service.LoadTest;

namespace EfficientViT.Service.Tests;

/// <summary>
/// The service as a process of its own: SIGTERM lets a request in flight finish and leaves nothing in the
/// temporary folder; an allocation that fails answers that request with JSON and the process goes on.
/// </summary>
[Collection(ServiceCollection.Name)]
public class ProcessLifetimeTests(ServiceFixture service)
{
    private static string ServiceAssembly => Path.Combine(AppContext.BaseDirectory, "EfficientViT.Service.dll");

    [Fact]
    public async Task Sigterm_lets_an_upload_in_flight_finish_then_exits_0_and_leaves_no_temporary_files()
    {
        using var folder = new TemporaryFolder();
        using var process = await ServiceProcess.StartAsync(ServiceAssembly, ["--model", service.ModelPath], folder.Path);
        // ML.NET's copy of the model's network, until the model is disposed.
        Assert.Contains(ServiceProcess.Leftovers(folder.Path), name => !IsRuntimeFile(name));
        using var client = new HttpClient { BaseAddress = process.Address };
        var file = service.FashionMnistPngs[6];
        var halfSent = new TaskCompletionSource();
        var resume = new TaskCompletionSource();
        var upload = client.PostAsync("predict", new PausedContent(await File.ReadAllBytesAsync(file), halfSent, resume.Task));
        await halfSent.Task;
        await Task.Delay(500);

        var exited = process.TerminateAsync(TimeSpan.FromMinutes(1));
        await Task.Delay(500);
        Assert.False(process.HasExited, "the service ended with an upload in flight");
        resume.SetResult();

        using var response = await upload;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(service.SerialAnswer(file).Label, (await response.Content.ReadFromJsonAsync<Prediction>())!.Label);
        Assert.Equal(0, await exited);
        Assert.Empty(ServiceProcess.Leftovers(folder.Path));
    }

    [Fact]
    public async Task A_pixel_allocation_that_fails_answers_503_json_and_the_service_goes_on()
    {
        using var folder = new TemporaryFolder();
        // A budget far beyond what the process may allocate: the allocation, not the budget, stops the image.
        using var process = await ServiceProcess.StartAsync(ServiceAssembly, ["--model", service.ModelPath, "--max-decode-mb", "100000"], folder.Path);
        using var client = new HttpClient { BaseAddress = process.Address };
        var small = await File.ReadAllBytesAsync(service.FashionMnistPngs[7]);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("predict", TestImages.Body(small))).StatusCode);
        // A 4096x4096 image needs 64 MiB of pixels in one block; leave the process 40 MiB more address space.
        var large = HostileUploads.LargePng(4096, 4096);
        process.LimitAddressSpace(process.AddressSpaceBytes + (40 << 20));

        using (var response = await client.PostAsync("predict", TestImages.Body(large)))
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode}: {body}");
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            Assert.NotNull(response.Headers.RetryAfter);
            Assert.Contains("memory", JsonDocument.Parse(body).RootElement.GetProperty("error").GetString());
        }
        Assert.False(process.HasExited, $"the service ended: {process.Output}");
        Assert.True(await MemoryScenario.HealthyAsync(client));
        using var again = await client.PostAsync("predict", TestImages.Body(small));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    // .NET's diagnostic socket and debugger pipes, which live as long as the process.
    private static bool IsRuntimeFile(string name) => name.StartsWith("dotnet-diagnostic-", StringComparison.Ordinal) || name.StartsWith("clr-debug-pipe-", StringComparison.Ordinal);

    // A body sent in two halves: the second waits for the test's go-ahead, so that the request is in flight meanwhile.
    private sealed class PausedContent : HttpContent
    {
        private readonly byte[] bytes;
        private readonly TaskCompletionSource halfSent;
        private readonly Task resume;

        public PausedContent(byte[] bytes, TaskCompletionSource halfSent, Task resume)
        {
            (this.bytes, this.halfSent, this.resume) = (bytes, halfSent, resume);
            Headers.ContentType = new MediaTypeHeaderValue("image/png");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync(bytes.AsMemory(0, bytes.Length / 2));
            await stream.FlushAsync();
            halfSent.SetResult();
            await resume;
            await stream.WriteAsync(bytes.AsMemory(bytes.Length / 2));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = bytes.Length;
            return true;
        }
    }
}
