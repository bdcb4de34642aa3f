// The page that swapped ?token= for the session cookie goes on to the same URL without the token,
// replacing its own history entry, so Back never returns to the URL that held the token.
"use strict";
location.replace(document.getElementById("next").href);
