using System.Net.Http.Headers;
using System.Text.Json;

namespace EfficientViT.Service.LoadTest;

/// <summary>What the service answered to one upload: every answer, refusals included, is to be JSON.</summary>
/// <param name="Status">The HTTP status, or 0 when no answer came (the connection failed or was dropped).</param>
/// <param name="Json">Whether the body is a JSON object of the expected shape: a prediction for 200, an <c>error</c> otherwise.</param>
/// <param name="Label">The top class of a prediction.</param>
/// <param name="RetryAfter">Whether a <c>Retry-After</c> header came with it.</param>
/// <param name="Body">The body as text, for messages.</param>
public sealed record UploadAnswer(int Status, bool Json, string? Label, bool RetryAfter, string Body)
{
    /// <summary>
    /// A well-formed answer: JSON, and a 503 with <c>Retry-After</c>. Whether its status is right is for the caller
    /// to say.
    /// </summary>
    public bool WellFormed => Status != 0 && Json && (Status != 503 || RetryAfter);

    /// <summary>Posts <paramref name="body"/> to <c>/predict</c> and reads the answer.</summary>
    /// <param name="expectContinue">Ask for 100-continue first: a body the service refuses from its length is then never sent.</param>
    public static async Task<UploadAnswer> PostAsync(HttpClient client, byte[] body, string contentType, bool expectContinue = false)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "predict") { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            request.Headers.ExpectContinue = expectContinue;
            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            var (json, label) = Parse(text, response.Content.Headers.ContentType?.MediaType, (int)response.StatusCode == 200);
            return new UploadAnswer((int)response.StatusCode, json, label, response.Headers.RetryAfter is not null, text);
        }
        catch (HttpRequestException e)
        {
            return new UploadAnswer(0, false, null, false, e.Message);
        }
    }

    private static (bool Json, string? Label) Parse(string text, string? mediaType, bool prediction)
    {
        if (mediaType != "application/json")
            return (false, null);
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (prediction)
                return root.TryGetProperty("label", out var label) && label.ValueKind == JsonValueKind.String ? (true, label.GetString()) : (false, null);
            return (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String, null);
        }
        catch (JsonException)
        {
            return (false, null);
        }
    }
}
